/**
 * The one DOM helper of the panel.
 *
 * Plugin names, descriptions and server messages are untrusted text: they only ever become text
 * nodes or attribute values here, never HTML, so a published plugin cannot inject markup.
 */

/** Create `<tag attrs...>children</tag>`; strings become text nodes. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  ...children: (Node | string | null)[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    node.setAttribute(name, value);
  }
  for (const child of children) {
    if (child !== null) {
      node.append(child);
    }
  }
  return node;
}

/** Replace every child of `parent`. */
export function replaceChildren(parent: HTMLElement, children: Node[]): void {
  parent.replaceChildren(...children);
}
