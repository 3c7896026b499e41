// nowbot dashboard: the edit box's live length counter and preview, and a page refresh that
// never throws away an edit in progress.
"use strict";

function liveCounter(box) {
  const counter = document.getElementById(box.dataset.counter);
  const preview = document.getElementById(box.dataset.preview);
  let timer = null;
  let asked = 0;
  async function count() {
    const ask = ++asked;
    const query = new URLSearchParams({ platform: box.dataset.platform, text: box.value });
    const response = await fetch("/length?" + query, { credentials: "same-origin" });
    if (!response.ok || ask !== asked) return; // an older answer arriving late
    const counted = await response.json();
    counter.querySelector(".count").textContent = counted.length;
    counter.classList.toggle("over", counted.over);
  }
  box.addEventListener("input", () => {
    box.form.dataset.dirty = "yes";
    if (preview) preview.textContent = box.value;
    clearTimeout(timer);
    timer = setTimeout(count, 120);
  });
}

function busy() {
  const active = document.activeElement;
  return document.querySelector("form[data-dirty]") !== null
    || (active !== null && active.matches("textarea, input, select"));
}

document.querySelectorAll("textarea[data-platform]").forEach(liveCounter);
const every = Number(document.body.dataset.refresh || 0);
if (every > 0) {
  setInterval(() => { if (!busy()) location.reload(); }, every * 1000);
}
