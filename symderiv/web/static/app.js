// symderiv's page: the form <-> the URL query, the JSON API, and the results. User text only ever goes
// through textContent; the HTML inserted comes from the server's renderer, which escapes it.
"use strict";
(function () {
  const LISTS = ["wrt", "shape", "fn", "symmetric"];
  const TEXTS = ["expr", "layout", "upstream"];
  const MEANING = {
    proved: "an exact proof: the identity holds entry by entry, as the reason says",
    probabilistic: "a randomized test with a stated error bound of at most 2^-60",
    refuted: "false: a counterexample refutes it",
    undecided: "checked, but not proved (for example, symbolic shapes checked at a few sizes)",
    checked: "checked, but not proved (for example, symbolic shapes checked at a few sizes)",
    unchecked: "not checked",
  };
  const TARGETS = [["numpy", "NumPy"], ["torch", "PyTorch"], ["jax", "JAX"]];
  const $ = (id) => document.getElementById(id);
  const el = (tag, cls, text) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const split = (text, sep) => text.split(sep).map((s) => s.trim()).filter((s) => s);

  function stateFromQuery(query) {
    const q = new URLSearchParams(query);
    const state = {};
    for (const k of TEXTS) state[k] = q.get(k) || "";
    for (const k of LISTS) state[k] = q.getAll(k).flatMap((v) => split(v, k === "shape" ? /;/ : /[,;]/));
    return state;
  }
  function stateFromForm() {
    const state = {};
    for (const k of TEXTS) state[k] = $(k).value.trim();
    for (const k of LISTS) state[k] = split($(k).value, k === "shape" ? /;/ : /[,;]/);
    return state;
  }
  function fill(state) {
    for (const k of TEXTS) $(k).value = state[k] || (k === "layout" ? "denominator" : "");
    for (const k of LISTS) $(k).value = state[k].join(k === "shape" ? "; " : ", ");
  }
  function query(state) {
    const q = new URLSearchParams();
    for (const k of ["expr", ...LISTS, "layout", "upstream"]) {
      if (LISTS.includes(k)) state[k].forEach((v) => q.append(k, v));
      else if (state[k] && !(k === "layout" && state[k] === "denominator")) q.append(k, state[k]);
    }
    return "?" + q.toString();
  }

  function clearErrors() {
    document.querySelectorAll(".error").forEach((e) => { e.hidden = true; e.textContent = ""; });
    document.querySelectorAll("[aria-invalid]").forEach((e) => e.removeAttribute("aria-invalid"));
  }
  function showError(err) {
    const field = $(err.field + "-error") ? err.field : "form";
    const box = $(field + "-error");
    box.textContent = "";
    box.appendChild(el("div", "message", err.message + (err.column ? " at column " + err.column : "")));
    if (err.text && err.column) {
      const pre = el("pre");
      const start = err.column - 1, end = start + (err.width || 1);
      pre.appendChild(document.createTextNode(err.text.slice(0, start)));
      const mark = el("mark", null, err.text.slice(start, end) || " ");
      mark.dataset.column = String(err.column);
      pre.appendChild(mark);
      pre.appendChild(document.createTextNode(err.text.slice(end)));
      box.appendChild(pre);
      const input = $(field);
      if (input && input.setSelectionRange && input.value === err.text) input.setSelectionRange(start, end);
    } else if (err.text) {
      box.appendChild(el("pre", null, err.text));
    }
    if (err.hint) box.appendChild(el("div", "hint", "hint: " + err.hint));
    box.hidden = false;
    if ($(field) && field !== "form") $(field).setAttribute("aria-invalid", "true");
  }

  async function api(kind, body) {
    const response = await fetch("/api/" + kind, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    });
    let payload;
    try { payload = await response.json(); } catch (e) { payload = { error: { message: "HTTP " + response.status, field: "form" } }; }
    if (!response.ok || payload.error) throw payload.error || { message: "HTTP " + response.status, field: "form" };
    return payload;
  }

  function math(node, markup) {
    // MathML from the server's renderer (latex2mathml of an expression it parsed)
    node.innerHTML = markup;
    return node;
  }
  function gradientBox(g) {
    const status = g.proof.status;
    const box = el("div", "gradient" + (status === "proved" || status === "probabilistic" ? "" : " not-proved"));
    box.dataset.wrt = g.wrt;
    box.appendChild(el("div", "formula", "∂L/∂" + g.wrt + (g.layout === "numerator" ? "ᵀ" : "") + " = " + g.formula));
    const line = el("p");
    line.appendChild(el("span", "status", status.toUpperCase()));
    line.appendChild(el("span", "meaning", " — " + (MEANING[status] || status) + ". " + (g.proof.reason || "")));
    box.appendChild(line);
    return box;
  }
  function download(name, text, label, type) {
    const a = el("a", null, label);
    a.href = URL.createObjectURL(new Blob([text], { type: type }));
    a.download = name;
    return a;
  }
  function codeBox(result) {
    // the code export, as `symderiv gradient --emit TARGET --forward`: shown as text, downloaded as a file
    const box = el("div", "code");
    const links = el("p", "downloads");
    links.appendChild(el("span", null, "Code (forward and gradient functions): "));
    const base = "symderiv_grad_" + result.wrt.join("_");
    for (const [target, label] of TARGETS) {
      const a = download(base + "_" + target + ".py", result.code[target], label, "text/x-python");
      a.dataset.target = target;
      links.appendChild(a);
    }
    box.appendChild(links);
    for (const [target, label] of TARGETS) {
      const details = el("details", "code-" + target);
      details.appendChild(el("summary", null, label));
      details.appendChild(el("pre", null, result.code[target]));
      box.appendChild(details);
    }
    return box;
  }
  function derivationBox(d, title) {
    const box = el("div", "derivation");
    box.appendChild(el("h3", null, title));
    const boxed = math(el("div", "result-math"), d.mathml);
    box.appendChild(boxed);
    box.appendChild(gradientBox(d.result));
    const links = el("p", "downloads");
    const base = "symderiv-" + d.wrt;
    links.appendChild(download(base + ".tex", d.latex, "LaTeX", "application/x-tex"));
    links.appendChild(download(base + ".md", d.markdown, "Markdown", "text/markdown"));
    links.appendChild(download(base + ".html", d.page, "HTML", "text/html"));
    links.appendChild(download(base + ".txt", d.text, "Text", "text/plain"));
    box.appendChild(links);
    box.appendChild(math(el("div", "steps"), d.html));
    return box;
  }

  async function run(state) {
    clearErrors();
    $("busy").hidden = false;
    $("results").hidden = true;
    const grads = $("gradients"), ders = $("derivations");
    grads.textContent = ""; ders.textContent = "";
    try {
      const emit = TARGETS.map((t) => t[0]);
      const result = await api("gradient", Object.assign({}, state, { emit: emit, forward: true }));
      const list = result.gradients;
      list.forEach((g) => grads.appendChild(gradientBox(g)));
      grads.appendChild(codeBox(result));
      $("results").hidden = false;
      for (const wrt of list.map((g) => g.wrt)) {
        const section = el("section", "wrt");
        section.id = "wrt-" + wrt;
        section.appendChild(el("h2", null, "∂L/∂" + wrt + ": the derivation, and the other layout"));
        ders.appendChild(section);
        const one = Object.assign({}, state, { wrt: [wrt] });
        try {
          const cmp = await api("compare", one);
          const pair = el("div", "pair");
          pair.appendChild(derivationBox(cmp.first, cmp.first.expression));
          pair.appendChild(derivationBox(cmp.second, cmp.second.expression + " (transposed layout)"));
          section.appendChild(pair);
          section.appendChild(el("p", "relation", cmp.relation));
        } catch (err) {
          const d = await api("derive", one);
          section.appendChild(derivationBox(d, d.expression));
          section.appendChild(el("p", "relation", "No comparison: " + (err.message || err)));
        }
      }
    } catch (err) {
      showError(err);
    } finally {
      $("busy").hidden = true;
    }
  }

  function go(state, push) {
    const q = query(state);
    $("share").href = q;
    if (push && location.search !== q) history.pushState(null, "", q);
    if (state.expr) run(state);
  }

  document.addEventListener("DOMContentLoaded", () => {
    const state = stateFromQuery(location.search);
    fill(state);
    go(state, false);
    $("form").addEventListener("submit", (e) => { e.preventDefault(); go(stateFromForm(), true); });
    $("layout").addEventListener("change", () => go(stateFromForm(), true));
    window.addEventListener("popstate", () => { const s = stateFromQuery(location.search); fill(s); go(s, false); });
  });
})();
