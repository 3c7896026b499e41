// nowbot dashboard, Draw page: a canvas drawn on with pointer events (mouse, pen, touch), pen
// widths, the set's label colours (labels mode) or a black pen (sketch), eraser, undo and clear;
// Draw posts the canvas as a PNG with the form token and shows the picture that comes back.
"use strict";

(() => {
  const form = document.getElementById("draw-form");
  if (!form) return;
  const canvas = document.getElementById("draw-canvas");
  const context = canvas.getContext("2d", { willReadFrequently: true });
  const setChoice = document.getElementById("draw-set");
  const modeChoice = document.getElementById("draw-mode");
  const paletteBox = document.getElementById("draw-palette");
  const eraser = document.getElementById("draw-eraser");
  const undoButton = document.getElementById("draw-undo");
  const submit = document.getElementById("draw-submit");
  const error = document.getElementById("draw-error");
  const result = document.getElementById("draw-result");
  const PEN = { colour: "#000000", name: "black pen" };  // sketch mode: pen lines on white
  const WHITE = "#ffffff";
  const UNDO_STEPS = 30;
  const undos = [];
  let width = 6;
  let colour = PEN.colour;
  let background = WHITE;
  let erasing = false;
  let stroke = null;  // the pointer drawing now, and where it was

  function say(message) {
    error.textContent = message;
    error.hidden = !message;
  }

  function remember() {
    undos.push(context.getImageData(0, 0, canvas.width, canvas.height));
    if (undos.length > UNDO_STEPS) undos.shift();
    undoButton.disabled = false;
  }

  function fill(paint) {
    context.fillStyle = paint;
    context.fillRect(0, 0, canvas.width, canvas.height);
  }

  function press(button, group) {
    group.forEach((other) => other.setAttribute("aria-pressed", String(other === button)));
  }

  function swatches() {
    // The palette of the chosen set and mode: its label colours (background first) or the pen.
    const option = setChoice.selectedOptions[0];
    const labels = modeChoice.value === "labels";
    const palette = labels ? JSON.parse(option.dataset.palette) : [PEN];
    paletteBox.replaceChildren(...palette.map((swatch) => {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "swatch";
      button.style.background = swatch.colour;
      button.title = swatch.name;
      button.setAttribute("aria-label", swatch.name);
      button.dataset.colour = swatch.colour;
      return button;
    }));
    const buttons = [...paletteBox.children];
    // In labels mode the first colour is the background: paint with the next one, or the one kept.
    const first = labels && buttons.length > 1 ? 1 : 0;
    const chosen = buttons.slice(first).find((b) => b.dataset.colour === colour) || buttons[first];
    colour = chosen.dataset.colour;
    press(chosen, buttons);
    const wanted = labels ? palette[0].colour : WHITE;
    if (wanted !== background) {
      if (undos.length) remember();
      background = wanted;
      fill(background);
    }
  }

  function modes() {
    // Only the modes in which the chosen set has a serving draw model can be picked.
    const served = setChoice.selectedOptions[0].dataset.modes.split(" ");
    for (const option of modeChoice.options) option.disabled = !served.includes(option.value);
    if (!served.includes(modeChoice.value)) modeChoice.value = served[0];
    swatches();
  }

  function point(event) {
    const box = canvas.getBoundingClientRect();
    return { x: (event.clientX - box.left) * canvas.width / box.width,
             y: (event.clientY - box.top) * canvas.height / box.height };
  }

  function line(from, to) {
    context.strokeStyle = erasing ? background : colour;
    context.lineWidth = erasing ? Math.max(width, 14) : width;
    context.lineCap = "round";
    context.lineJoin = "round";
    context.beginPath();
    context.moveTo(from.x, from.y);
    context.lineTo(to.x, to.y);
    context.stroke();
  }

  canvas.addEventListener("pointerdown", (event) => {
    if (event.button !== 0) return;
    event.preventDefault();
    canvas.setPointerCapture(event.pointerId);
    remember();
    const at = point(event);
    stroke = { id: event.pointerId, at };
    line(at, at);  // a tap leaves a dot
  });
  canvas.addEventListener("pointermove", (event) => {
    if (!stroke || event.pointerId !== stroke.id) return;
    const moves = event.getCoalescedEvents ? event.getCoalescedEvents() : [event];
    for (const move of moves.length ? moves : [event]) {
      const at = point(move);
      line(stroke.at, at);
      stroke.at = at;
    }
  });
  for (const end of ["pointerup", "pointercancel", "lostpointercapture"]) {
    canvas.addEventListener(end, (event) => {
      if (stroke && event.pointerId === stroke.id) stroke = null;
    });
  }

  const widths = [...form.querySelectorAll("[data-width]")];
  widths.forEach((button) => button.addEventListener("click", () => {
    width = Number(button.dataset.width);
    press(button, widths);
  }));
  paletteBox.addEventListener("click", (event) => {
    const button = event.target.closest(".swatch");
    if (!button) return;
    colour = button.dataset.colour;
    erasing = false;
    eraser.setAttribute("aria-pressed", "false");
    press(button, [...paletteBox.children]);
  });
  eraser.addEventListener("click", () => {
    erasing = !erasing;
    eraser.setAttribute("aria-pressed", String(erasing));
  });
  undoButton.addEventListener("click", () => {
    const last = undos.pop();
    if (last) context.putImageData(last, 0, 0);
    undoButton.disabled = undos.length === 0;
  });
  document.getElementById("draw-clear").addEventListener("click", () => {
    remember();
    fill(background);
  });
  setChoice.addEventListener("change", modes);
  modeChoice.addEventListener("change", swatches);

  function show(blob) {
    let picture = result.querySelector("img");
    if (!picture) {
      picture = document.createElement("img");
      picture.className = "draw-picture";
      result.append(picture);
    } else {
      URL.revokeObjectURL(picture.src);
    }
    picture.alt = `your drawing and ${setChoice.value}'s picture of it (${modeChoice.value})`;
    picture.src = URL.createObjectURL(blob);
    result.hidden = false;
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    say("");
    submit.disabled = true;
    submit.textContent = "Drawing…";
    canvas.toBlob(async (png) => {
      const body = new FormData();
      body.append("csrf", form.dataset.csrf);
      body.append("set", setChoice.value);
      body.append("mode", modeChoice.value);
      body.append("drawing", png, "drawing.png");
      try {
        const response = await fetch("/draw", { method: "POST", body, credentials: "same-origin" });
        if (response.ok) {
          show(await response.blob());
        } else {
          const reason = (await response.text()).split("\n")[0].slice(0, 300);
          say(reason || `the dashboard answered ${response.status}`);
        }
      } catch {
        say("the dashboard could not be reached: is nowbot still running?");
      } finally {
        submit.disabled = false;
        submit.textContent = "Draw";
      }
    }, "image/png");
  });

  fill(background);
  modes();
})();
