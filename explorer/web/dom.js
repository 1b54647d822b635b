// The one DOM helper the panel (live.js) and its phone layout (phone.js) share.

export function element(tag, className, parent) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (parent) parent.appendChild(node);
  return node;
}
