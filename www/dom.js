// Small DOM helpers shared by the demo's views.
export const $ = (selector) => document.querySelector(selector);

/** A new element with properties set and children appended. */
export const element = (tag, attributes = {}, ...children) => {
  const node = Object.assign(document.createElement(tag), attributes);
  node.append(...children);
  return node;
};
