// The Lesson's keyboard: left and right arrows move to the previous or next step, unless the
// focus is in a control that uses the arrows itself (a slider, a text field, a radio group).
const OWN_ARROWS = "input, textarea, select, [role=slider], [role=radiogroup], [contenteditable=true]";
let send = null;

function onKey(event) {
  if (event.altKey || event.ctrlKey || event.metaKey || event.shiftKey) return;
  const move = { ArrowLeft: -1, ArrowRight: 1 }[event.key];
  if (!move || !send) return;
  if (event.target instanceof Element && event.target.closest(OWN_ARROWS)) return;
  event.preventDefault();
  send(move);
}

export default function mountComponent(component) {
  const { setTriggerValue } = component;
  send = (move) => setTriggerValue("move", { move, at: Date.now() });
  if (!window.latentExplorerLessonKeys) {
    window.latentExplorerLessonKeys = true;
    document.addEventListener("keydown", onKey);
  }
}
