// keys of the review page (j/k, a, r, g): a file of its own, as the page's CSP allows no inline script
(() => {
  const items = Array.from(document.querySelectorAll("section.item"));
  let current = 0;
  if (items.length) items[0].classList.add("current");
  const show = (i) => {
    if (!items.length) return;
    items[current].classList.remove("current");
    current = Math.max(0, Math.min(items.length - 1, i));
    items[current].classList.add("current");
    items[current].scrollIntoView({block: "start"});
  };
  document.addEventListener("keydown", (event) => {
    if (event.target.tagName === "INPUT" || !items.length) return;
    if (event.key === "j") show(current + 1);
    else if (event.key === "k") show(current - 1);
    else if (event.key === "a") items[current].querySelector("form.approve").requestSubmit();
    else if (event.key === "g") items[current].querySelector("form.regenerate")?.requestSubmit();
    else if (event.key === "r") { event.preventDefault(); items[current].querySelector("form.reject input[name=reason]").focus(); }
  });
})();
