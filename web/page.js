// The web chat's page script (loaded once in <head> by app.py). Everything here acts on links
// and keys the page itself writes or owns; no article text is ever read as markup.
(() => {
  if (window.qaPage) return;
  window.qaPage = true;

  // Set a Svelte-bound textbox the way typing does, so Gradio sees the new value.
  function setValue(el, value) {
    const setter = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(el), "value").set;
    setter.call(el, value);
    el.dispatchEvent(new Event("input", { bubbles: true }));
  }

  async function copyCitation(link) {
    const cite = link.parentElement && link.parentElement.querySelector(".qa-cite");
    const text = cite ? cite.textContent : "";
    let ok = false;
    try {
      await navigator.clipboard.writeText(text);
      ok = true;
    } catch (e) {  // no clipboard API (plain http on another host): the old way
      const t = document.createElement("textarea");
      t.value = text;
      t.setAttribute("readonly", "");
      t.style.position = "fixed";
      t.style.opacity = "0";
      document.body.appendChild(t);
      t.select();
      try { ok = document.execCommand("copy"); } catch (e2) { ok = false; }
      t.remove();
    }
    const label = link.textContent;
    link.textContent = ok ? "Copied ✓" : "Could not copy";
    setTimeout(() => { link.textContent = label; }, 1500);
  }

  // "Open in article" under a quote and a title in the Library list: the link's fragment
  // (#qa-article:ID[:START:END]) goes to the server through the hidden opener button.
  document.addEventListener("click", (ev) => {
    const link = ev.target.closest && ev.target.closest("a.qa-open, a.qa-copy");
    if (!link) return;
    ev.preventDefault();
    ev.stopPropagation();
    if (link.classList.contains("qa-copy")) { copyCitation(link); return; }
    window.qaRef = (link.closest("#qa-list") ? "list " : "chat ") + link.getAttribute("href");
    const opener = document.querySelector("#qa-open-btn");
    if (opener) opener.click();
  }, true);

  // After an article opens: its marked sentence (or its top) in view.
  window.qaShowHit = () => {
    let tries = 0;
    const show = () => {
      const view = document.querySelector("#qa-article");
      const hit = view && view.querySelector("mark.qa-hit");
      if (hit) { hit.scrollIntoView({ block: "center" }); return; }
      if (++tries < 20) { setTimeout(show, 50); return; }
      if (view) view.scrollIntoView({ block: "start" });
    };
    setTimeout(show, 30);
  };

  // After an answer: the question and quote 1 in view (not the end of the last quote).
  let answers = 0;
  new MutationObserver(() => {
    const bots = document.querySelectorAll("#qa-chat [data-testid='bot']");
    if (bots.length < answers) answers = bots.length;  // the chat was cleared
    if (bots.length <= answers) return;
    const last = bots[bots.length - 1];
    if (!last.textContent.trim()) return;  // still being written
    answers = bots.length;
    const users = document.querySelectorAll("#qa-chat [data-testid='user']");
    const question = users.length ? users[users.length - 1] : last;
    requestAnimationFrame(() => question.scrollIntoView({ block: "start" }));
  }).observe(document.body, { childList: true, subtree: true, characterData: true });

  // Up in the empty question box recalls the last question (again: the one before), Down goes back.
  let back = 0;
  let recalled = null;
  document.addEventListener("keydown", (ev) => {
    const box = ev.target;
    if (!(ev.key === "ArrowUp" || ev.key === "ArrowDown") || !box.closest || !box.closest("#qa-question")) return;
    if (box.value.trim() !== "" && box.value !== recalled) { back = 0; return; }
    const asked = Array.from(document.querySelectorAll("#qa-chat [data-testid='user']"))
      .map((m) => m.innerText.trim()).filter(Boolean);
    if (!asked.length) return;
    back = ev.key === "ArrowUp" ? Math.min(back + 1, asked.length) : Math.max(back - 1, 0);
    recalled = back ? asked[asked.length - back] : "";
    ev.preventDefault();
    setValue(box, recalled);
  }, true);
})();
