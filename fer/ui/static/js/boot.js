// A classic script that loads the Webcam tab's ES modules: Gradio's gr.HTML(head=...) inserts <script src> tags
// without their type, so the page's <head> names this file and it imports main.js, relative to its own URL.
// A click on Start / Stop while the modules still load is kept and replayed once they have.
(() => {
  const clicked = [];
  const early = (event) => {
    const button = event.target instanceof Element && event.target.closest("#fer-start, #fer-stop");
    if (button) clicked.push(button.id);
  };
  document.addEventListener("click", early);
  import(new URL("main.js", document.currentScript.src).href)
    .then((main) => main.replay(clicked))
    .catch((err) => console.error("fer: the Webcam tab's page code did not load:", err))
    .finally(() => document.removeEventListener("click", early));
})();
