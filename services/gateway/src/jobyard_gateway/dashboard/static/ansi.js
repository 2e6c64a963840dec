// ANSI colours (SGR escape sequences) in program output, rendered as styled spans. Other escape
// sequences are dropped. Text is only ever set as text, never parsed as HTML.
const SGR = /\x1b\[([0-9;]*)m/g;
const OTHER_ESCAPES = /\x1b\[[0-9;?]*[A-Za-ln-z]|\x1b[()][A-Za-z0-9]|\r/g;
const NAMES = ["black", "red", "green", "yellow", "blue", "magenta", "cyan", "white"];

function apply(state, codes) {
  for (const code of codes.length ? codes : [0]) {
    if (code === 0) Object.assign(state, { fg: null, bg: null, bold: false, dim: false, underline: false });
    else if (code === 1) state.bold = true;
    else if (code === 2) state.dim = true;
    else if (code === 4) state.underline = true;
    else if (code === 22) state.bold = state.dim = false;
    else if (code === 24) state.underline = false;
    else if (code >= 30 && code <= 37) state.fg = NAMES[code - 30];
    else if (code >= 90 && code <= 97) state.fg = `bright-${NAMES[code - 90]}`;
    else if (code === 39) state.fg = null;
    else if (code >= 40 && code <= 47) state.bg = NAMES[code - 40];
    else if (code >= 100 && code <= 107) state.bg = `bright-${NAMES[code - 100]}`;
    else if (code === 49) state.bg = null;
  }
}

function classes(state) {
  return [
    state.fg && `ansi-${state.fg}`,
    state.bg && `ansi-bg-${state.bg}`,
    state.bold && "ansi-bold",
    state.dim && "ansi-dim",
    state.underline && "ansi-underline",
  ].filter(Boolean);
}

export function renderAnsi(element) {
  const text = element.textContent;
  if (!text.includes("\x1b")) return;
  const state = { fg: null, bg: null, bold: false, dim: false, underline: false };
  const parts = [];
  let last = 0;
  for (const match of text.matchAll(SGR)) {
    parts.push([text.slice(last, match.index), classes(state)]);
    apply(state, match[1].split(";").filter(Boolean).map(Number));
    last = match.index + match[0].length;
  }
  parts.push([text.slice(last), classes(state)]);
  element.replaceChildren(
    ...parts
      .map(([chunk, names]) => [chunk.replace(OTHER_ESCAPES, ""), names])
      .filter(([chunk]) => chunk)
      .map(([chunk, names]) => {
        if (!names.length) return document.createTextNode(chunk);
        const span = document.createElement("span");
        span.className = names.join(" ");
        span.textContent = chunk;
        return span;
      }),
  );
}
