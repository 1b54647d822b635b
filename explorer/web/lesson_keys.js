// The Lesson's keyboard: left and right arrows move to the previous or next step, unless the
// focus is in a control of the step's view that uses the arrows itself (a slider, a text field,
// a radio group). The question's radio group keeps them only until it is answered: after that
// a browser's radio would move the answer to the next choice, so the keys move on instead.
const OWN_ARROWS = "input, textarea, select, [role=slider], [role=radiogroup], [contenteditable=true]";
const QUESTION = ".st-key-lesson_choices"; // the question's radio group (lesson.ask)
const NAV = ".st-key-lesson_nav"; // only on the Lesson page: the listener outlives it

function answered(question) {
  // checked: answered, even before the rerun disables it; disabled: answered or revealed
  return question.querySelector("input:checked, input:disabled") !== null;
}

function onKey(event) {
  if (event.altKey || event.ctrlKey || event.metaKey || event.shiftKey) return;
  const move = { ArrowLeft: -1, ArrowRight: 1 }[event.key];
  const send = window.latentExplorerLessonKeys;
  if (!move || !send || !document.querySelector(NAV)) return;
  const target = event.target instanceof Element ? event.target : null;
  const question = target?.closest(QUESTION);
  if (question ? !answered(question) : target?.closest(OWN_ARROWS)) return;
  // In the capture phase, before the radio group sees the key: it must not change the answer.
  event.preventDefault();
  event.stopPropagation();
  send(move);
}

export default function mountComponent(component) {
  const { setTriggerValue } = component;
  const first = !window.latentExplorerLessonKeys;
  // The newest mount sends: an earlier one's component may be gone.
  window.latentExplorerLessonKeys = (move) => setTriggerValue("move", { move, at: Date.now() });
  if (first) window.addEventListener("keydown", onKey, { capture: true });
}
