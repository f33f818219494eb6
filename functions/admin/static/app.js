// fashiontag admin page: sign-in, fetching server-rendered views with the ID token in a header,
// forms posted as JSON, photo uploads straight to the bucket with progress and the category
// computed in the browser (classify.js) before the upload finishes, live updates (server-sent
// events from /api/live, read over fetch because EventSource cannot send the token).
// Every piece of data shown comes from the server's autoescaped HTML or goes through
// textContent; nothing here builds HTML from strings.
"use strict";

(() => {
  const body = document.body;
  const cfg = {
    authUrl: body.dataset.authUrl,
    tokenUrl: body.dataset.tokenUrl,
    apiKey: body.dataset.apiKey,
    maxBytes: Number(body.dataset.maxBytes),
    maxFiles: Number(body.dataset.maxFiles),
  };
  const KEY = "fashiontag.session";
  const HOME = { manager: "#/queue", seller: "#/seller", buyer: "#/catalogue" };
  const BATCH_CHECK_MS = 5000; // a batch's totals are checked on each live change, and this often
  let session = null;
  try {
    session = JSON.parse(sessionStorage.getItem(KEY) || "null");
  } catch (e) {
    session = null;
  }
  let me = null;
  let generation = 0; // bumped on every view change: stale loads stop
  const images = new Map(); // API image URL -> blob: URL

  const $ = (sel, root = document) => root.querySelector(sel);
  const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

  // --- messages to the person -----------------------------------------------------------

  function flash(text, kind = "ok", problems = []) {
    const box = $("#flash");
    box.replaceChildren();
    box.className = kind;
    const p = document.createElement("p");
    p.textContent = text;
    box.append(p);
    if (problems.length) {
      const ul = document.createElement("ul");
      for (const problem of problems) {
        const li = document.createElement("li");
        li.textContent = problem;
        ul.append(li);
      }
      box.append(ul);
    }
    box.hidden = false;
  }

  function clearFlash() {
    const box = $("#flash");
    box.hidden = true;
    box.replaceChildren();
  }

  // --- Firebase Auth (REST: the emulator locally, Google's endpoints in the cloud) -------

  function save(value) {
    session = value;
    if (value) sessionStorage.setItem(KEY, JSON.stringify(value));
    else sessionStorage.removeItem(KEY);
  }

  function authMessage(data) {
    const code = (data && data.error && data.error.message) || "";
    if (/INVALID_PASSWORD|EMAIL_NOT_FOUND|INVALID_LOGIN_CREDENTIALS|INVALID_EMAIL/.test(code)) {
      return "Wrong email or password.";
    }
    if (/TOO_MANY_ATTEMPTS/.test(code)) return "Too many attempts; try again later.";
    if (/USER_DISABLED/.test(code)) return "This account is disabled.";
    return "Sign-in failed" + (code ? `: ${code}` : ".");
  }

  async function signIn(email, password) {
    const url = `${cfg.authUrl}/v1/accounts:signInWithPassword?key=${encodeURIComponent(cfg.apiKey)}`;
    const response = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ email, password, returnSecureToken: true }),
    });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(authMessage(data));
    save({
      idToken: data.idToken,
      refreshToken: data.refreshToken,
      expiresAt: Date.now() + Number(data.expiresIn) * 1000,
    });
  }

  async function idToken() {
    if (!session) return null;
    if (Date.now() > session.expiresAt - 60000) {
      const url = `${cfg.tokenUrl}/v1/token?key=${encodeURIComponent(cfg.apiKey)}`;
      const response = await fetch(url, {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: session.refreshToken }),
      }).catch(() => null);
      if (!response || !response.ok) {
        save(null);
        return null;
      }
      const data = await response.json();
      save({
        idToken: data.id_token,
        refreshToken: data.refresh_token,
        expiresAt: Date.now() + Number(data.expires_in) * 1000,
      });
    }
    return session.idToken;
  }

  // --- the API: the token travels in the Authorization header, never in a cookie ------

  class SignedOut extends Error {}

  async function api(path, options = {}) {
    const token = await idToken();
    if (!token) {
      signOut("Please sign in.");
      throw new SignedOut();
    }
    const headers = Object.assign({}, options.headers || {}, { Authorization: `Bearer ${token}` });
    const response = await fetch(path, Object.assign({}, options, { headers, credentials: "omit" }));
    if (response.status === 401) {
      const data = await response.clone().json().catch(() => ({}));
      signOut(data.error || "Your sign-in has expired; sign in again.");
      throw new SignedOut();
    }
    return response;
  }

  async function postJson(path, payload) {
    const response = await api(path, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(payload),
    });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      const error = new Error(data.error || `The request failed (${response.status}).`);
      error.problems = data.problems || [];
      throw error;
    }
    return data;
  }

  function newId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  // --- signing in and out, routing ------------------------------------------------------

  function signOut(message) {
    save(null);
    me = null;
    generation += 1;
    stopLive();
    $("#nav").hidden = true;
    $("#who").hidden = true;
    $("#view").replaceChildren();
    $("#sign-in").hidden = false;
    if (message) flash(message, "error");
  }

  async function start() {
    let response;
    try {
      response = await api("/api/me", { headers: { Accept: "application/json" } });
    } catch (e) {
      return;
    }
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      signOut(data.error || "This account cannot use the page.");
      return;
    }
    me = data;
    $("#sign-in").hidden = true;
    $("#nav").hidden = false;
    $("#who").hidden = false;
    $("#who-email").textContent = me.email;
    $("#who-role").textContent = me.role;
    for (const group of $$("#nav [data-role]")) group.hidden = group.dataset.role !== me.role;
    route();
    live(me);
  }

  function route() {
    if (!me) return;
    const hash = location.hash.replace(/^#/, "");
    if (!hash || hash === "/") {
      location.hash = HOME[me.role];
      return;
    }
    clearFlash();
    load(`/views${hash}`);
  }

  async function load(path) {
    const mine = ++generation;
    const view = $("#view");
    let response;
    try {
      response = await api(path, { headers: { Accept: "text/html" } });
    } catch (e) {
      return;
    }
    const html = await response.text();
    if (mine !== generation) return;
    view.innerHTML = (response.headers.get("Content-Type") || "").startsWith("text/html") ? html : "";
    if (!response.ok && !view.innerHTML) flash(`This page could not be shown (${response.status}).`, "error");
    view.dataset.path = path;
    hydrate(view);
    for (const link of $$("#nav a")) {
      const target = `/views${link.getAttribute("href").slice(1)}`;
      link.classList.toggle("active", path === target || path.startsWith(`${target}?`));
    }
  }

  function reload() {
    const path = $("#view").dataset.path;
    if (path) load(path);
  }

  // --- what the server-rendered fragments ask for ---------------------------------------

  function hydrate(root) {
    for (const img of $$("img[data-src]", root)) loadImage(img);
    for (const el of $$("[data-hex]", root)) {
      if (/^#[0-9a-fA-F]{6}$/.test(el.dataset.hex)) el.style.backgroundColor = el.dataset.hex;
    }
    for (const input of $$("input[data-request-id]", root)) input.value = newId();
    for (const form of $$("form[data-api]", root)) form.addEventListener("submit", submitApi);
    for (const form of $$("form[data-multipart]", root)) form.addEventListener("submit", submitMultipart);
    for (const form of $$("form[data-view]", root)) form.addEventListener("submit", submitFilter);
    for (const form of $$("form[data-try]", root)) form.addEventListener("submit", submitTry);
    for (const form of $$("form[data-upload]", root)) {
      form.addEventListener("submit", submitUpload);
      for (const input of $$("input[type=file]", form)) input.addEventListener("change", choosePhotos);
      resumeUpload(form);
    }
    for (const button of $$("button[data-reload]", root)) button.addEventListener("click", reload);
    for (const box of $$("[data-select-all]", root)) {
      box.addEventListener("change", () => {
        for (const c of $$(`input[type=checkbox][name="${box.dataset.selectAll}"]`, root)) c.checked = box.checked;
      });
    }
    for (const select of $$("[data-category-select]", root)) {
      select.addEventListener("change", () => showFamilies(select));
    }
    for (const button of $$("button[data-open]", root)) button.addEventListener("click", openReport);
    for (const button of $$("button[data-reply-to]", root)) button.addEventListener("click", reply);
    for (const button of $$("button.report-pic", root)) {
      button.addEventListener("click", () => button.querySelector("img").classList.toggle("large"));
    }
    for (const button of $$("[data-close-report]", root)) {
      button.addEventListener("click", () => {
        button.closest("[data-report-panel]").hidden = true;
      });
    }
  }

  // A picture that is gone or cannot be shown becomes a labelled empty frame, not a broken icon.
  function noPicture(img) {
    const frame = document.createElement("span");
    frame.className = `${img.className} none`;
    frame.textContent = "no picture";
    frame.setAttribute("role", "img");
    frame.setAttribute("aria-label", `${img.alt}: no picture`);
    img.replaceWith(frame);
  }

  async function loadImage(img) {
    const url = img.dataset.src;
    img.addEventListener("error", () => noPicture(img), { once: true });
    try {
      let local = images.get(url);
      if (!local) {
        const response = await api(url);
        if (!response.ok) {
          noPicture(img);
          return;
        }
        local = URL.createObjectURL(await response.blob());
        images.set(url, local);
      }
      img.src = local;
    } catch (e) {
      /* signed out meanwhile */
    }
  }

  function showFamilies(select) {
    for (const fieldset of $$("fieldset[data-category]", select.form)) {
      const on = fieldset.dataset.category === select.value;
      fieldset.hidden = !on;
      fieldset.disabled = !on;
    }
  }

  // Reply: the message form, addressed to the sender (and about the same product), ready to type.
  function reply(event) {
    const button = event.currentTarget;
    const form = $("form[data-write]");
    if (!form) return;
    const to = form.elements.to;
    if (![...to.options].some((o) => o.value === button.dataset.replyTo)) {
      to.add(new Option(button.dataset.replyName, button.dataset.replyTo));
    }
    to.value = button.dataset.replyTo;
    form.elements.product_id.value = button.dataset.replyProduct;
    form.elements.text.focus();
  }

  // A version's report (report.json, the card) opens under its table with a title, in view.
  async function openReport(event) {
    const button = event.currentTarget;
    const panel = $("[data-report-panel]");
    const table = button.closest("table");
    try {
      const response = await api(button.dataset.open);
      $("[data-report-title]", panel).textContent = button.dataset.title || button.textContent;
      $("[data-report]", panel).textContent = await response.text();
      panel.hidden = false;
      if (table) table.after(panel);
      panel.scrollIntoView({ block: "nearest" });
    } catch (e) {
      /* signed out */
    }
  }

  function formJson(form) {
    const out = {};
    for (const el of Array.from(form.elements)) {
      if (!el.name || el.matches(":disabled") || ["submit", "button", "file"].includes(el.type)) continue;
      if ("emptyList" in el.dataset) {
        out[el.name] = out[el.name] || [];
        continue;
      }
      if ((el.type === "checkbox" || el.type === "radio") && !el.checked) continue;
      let value = el.value;
      if (el.type === "number") value = el.value === "" ? null : Number(el.value);
      if ("list" in el.dataset) {
        (out[el.name] = out[el.name] || []).push(value);
        continue;
      }
      const path = el.name.split(".");
      let target = out;
      for (const part of path.slice(0, -1)) target = target[part] = target[part] || {};
      target[path[path.length - 1]] = value;
    }
    return out;
  }

  async function submitApi(event) {
    event.preventDefault();
    const form = event.currentTarget;
    if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) return;
    const button = form.querySelector("[type=submit]");
    if (button) button.disabled = true;
    try {
      const result = await postJson(form.dataset.api, formJson(form));
      let text = form.dataset.success || "Done.";
      if (result && Array.isArray(result.verified)) {
        text += `: ${result.verified.length} verified, ${result.unchanged.length} already verified, `;
        text += `${result.skipped.length} skipped (below ${result.threshold} or not open)`;
      }
      flash(text, "ok");
      reload();
    } catch (error) {
      if (!(error instanceof SignedOut)) flash(error.message, "error", error.problems || []);
    } finally {
      if (button) button.disabled = false;
    }
  }

  // A form with files (a model version), sent as multipart; the answer is JSON.
  async function submitMultipart(event) {
    event.preventDefault();
    const form = event.currentTarget;
    const button = form.querySelector("[type=submit]");
    if (button) button.disabled = true;
    try {
      const response = await api(form.dataset.multipart, {
        method: "POST",
        headers: { Accept: "application/json" },
        body: new FormData(form),
      });
      const data = await response.json().catch(() => ({}));
      if (!response.ok) {
        flash(data.error || `The request failed (${response.status}).`, "error", data.problems || []);
        return;
      }
      flash(form.dataset.success || "Done.", "ok");
      reload();
    } catch (error) {
      if (!(error instanceof SignedOut)) flash(error.message, "error");
    } finally {
      if (button) button.disabled = false;
    }
  }

  function submitFilter(event) {
    event.preventDefault();
    const form = event.currentTarget;
    const params = new URLSearchParams();
    for (const [key, value] of new FormData(form)) if (value !== "") params.set(key, value);
    const query = params.toString();
    const target = `#/${form.dataset.view}${query ? `?${query}` : ""}`;
    if (location.hash === target) route();
    else location.hash = target;
  }

  // --- try a model: the server's answer and the browser's, side by side -------------------

  const percent = (p) => `${Math.round(p * 1000) / 10}%`;
  const labelled = (r) => `${r.label.replace(/_/g, " ")} ${percent(r.confidence)}`;

  function fill(table, side, values) {
    for (const [key, value] of Object.entries(values)) {
      const cell = $(`[data-${side}="${key}"]`, table);
      if (cell) cell.textContent = value;
    }
  }

  function serverValues(answer) {
    if (answer.status !== "ok") {
      const reason = (answer.rejection || {}).message || "rejected";
      return { version: answer.version || "", category: "-", top: "-", outcome: `rejected: ${reason}` };
    }
    const category = answer.category;
    const attributes = Object.entries(answer.attributes || {}).map(([family, a]) =>
      a.label ? `${family.replace(/_/g, " ")}: ${labelled(a)}` : `${family.replace(/_/g, " ")}: ${a.status}`,
    );
    const colours = (answer.colours || []).map((c) => `${c.name} ${percent(c.share)}`);
    return {
      version: (answer.model || {}).version || "",
      category: labelled(category),
      top: category.top.slice(1, 3).map(labelled).join(", ") || "-",
      outcome: answer.auto_accepted ? "auto-accepted" : `to review: ${(answer.review_reason || {}).message || ""}`,
      attributes: attributes.join("; ") || "-",
      colours: colours.join(", ") || "-",
      time: `${answer.latency_ms} ms (model)`,
    };
  }

  async function browserValues(version, photo) {
    const model = await browserClassifier(version);
    const result = await model.classify(photo);
    const above = model.threshold != null && result.confidence >= model.threshold;
    return {
      version: model.version,
      category: labelled(result),
      top: result.top.slice(1, 3).map(labelled).join(", ") || "-",
      outcome: model.threshold == null ? "-" : `${above ? "at or above" : "below"} the threshold ${model.threshold}`,
      time: `${Math.round(result.ms * 10) / 10} ms`,
    };
  }

  // The photo the browser classifies: the chosen file, or the product's original photo.
  async function chosenPhoto(form) {
    const file = form.elements.image.files[0];
    if (file) return file;
    const id = form.elements.product_id.value.trim();
    const response = await api(`/api/products/${encodeURIComponent(id)}/image?kind=photo`);
    if (!response.ok) throw new Error(`the photo answered ${response.status}`);
    return response.blob();
  }

  async function submitTry(event) {
    event.preventDefault();
    const form = event.currentTarget;
    const table = form.nextElementSibling;
    const button = form.querySelector("[type=submit]");
    const version = form.elements.version.value;
    clearFlash();
    button.disabled = true;
    for (const cell of $$("td[data-server], td[data-browser]", table)) cell.textContent = "…";
    table.hidden = false;
    const server = (async () => {
      const response = await api(form.dataset.try, {
        method: "POST",
        headers: { Accept: "application/json" },
        body: new FormData(form),
      });
      const data = await response.json().catch(() => ({}));
      if (!response.ok) throw new Error(data.error || `The request failed (${response.status}).`);
      return data.server;
    })();
    const browser = chosenPhoto(form).then((photo) => browserValues(version, photo));
    const [s, b] = await Promise.allSettled([server, browser]);
    if (s.status === "fulfilled") fill(table, "server", serverValues(s.value));
    else {
      fill(table, "server", { category: "-", top: "-", outcome: "-", attributes: "-", colours: "-", time: "-" });
      if (!(s.reason instanceof SignedOut)) flash(s.reason.message, "error");
    }
    if (b.status === "fulfilled") fill(table, "browser", b.value);
    else fill(table, "browser", { version: "-", category: `no answer: ${b.reason.message}`, top: "-", outcome: "-", time: "-" });
    button.disabled = false;
  }

  // --- uploads: one resumable session per file, PUT straight to the bucket ---------------

  function uploadRow(list, file) {
    const li = document.createElement("li");
    const name = document.createElement("span");
    name.className = "file";
    name.textContent = file.name;
    const bar = document.createElement("progress");
    bar.max = file.size || 1;
    bar.value = 0;
    const state = document.createElement("span");
    state.className = "state";
    state.textContent = "waiting";
    const guess = document.createElement("span");
    guess.className = "guess";
    li.append(name, guess, bar, state);
    list.append(li);
    return { li, bar, state, guess };
  }

  // --- the category in the browser: the active model runs on each photo as it is chosen ----

  const classifiers = new Map(); // version ("" = the live one) -> the promise of its classifier

  function browserClassifier(version = "") {
    if (!classifiers.has(version)) {
      const query = version ? `?version=${encodeURIComponent(version)}` : "";
      const loading = (async () => {
        const response = await api(`/api/browser-model${query}`, { headers: { Accept: "application/json" } });
        const info = await response.json().catch(() => ({}));
        if (!response.ok) throw new Error(info.error || "no model for the browser");
        const [module, bytes] = await Promise.all([
          import(new URL("/assets/classify.js", location.href).href),
          api(info.model_url).then((r) => {
            if (!r.ok) throw new Error(`the model file answered ${r.status}`);
            return r.arrayBuffer();
          }),
        ]);
        const model = await module.loadClassifier(info, bytes);
        return Object.assign(model, { threshold: info.auto_accept_threshold });
      })();
      loading.catch(() => classifiers.delete(version)); // tried again next time
      classifiers.set(version, loading);
    }
    return classifiers.get(version);
  }

  // Fills the row's guess with the browser's category; the server's answer follows the upload.
  async function preview(file, row) {
    row.guess.textContent = "…";
    try {
      const model = await browserClassifier();
      const result = await model.classify(file);
      row.guess.textContent = `${result.label.replace(/_/g, " ")} ${Math.round(result.confidence * 100)}%`;
      row.guess.title = `Computed in your browser by ${model.name} ${model.version}; the server checks it after the upload.`;
      row.guess.dataset.browserCategory = result.label;
      row.guess.dataset.confidence = String(result.confidence);
    } catch (error) {
      if (error instanceof SignedOut) return;
      row.guess.textContent = "";
      row.guess.title = `No preview: ${error.message}`;
    }
  }

  const chosen = new WeakMap(); // upload form -> {files, rows} of the current choice

  function choosePhotos(event) {
    const input = event.currentTarget;
    const list = input.form.querySelector("[data-upload-list]");
    const files = Array.from(input.files || []);
    list.replaceChildren();
    const rows = files.map((file) => uploadRow(list, file));
    chosen.set(input.form, { files, rows });
    files.forEach((file, i) => preview(file, rows[i]));
  }

  function put(session, file, row) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("PUT", session.session_url);
      xhr.setRequestHeader("Content-Type", session.content_type);
      xhr.upload.onprogress = (e) => {
        if (!e.lengthComputable) return;
        row.bar.max = e.total;
        row.bar.value = e.loaded;
        row.state.textContent = `${Math.round((100 * e.loaded) / e.total)}%`;
      };
      xhr.onload = () => {
        if (xhr.status >= 200 && xhr.status < 300) {
          row.bar.value = row.bar.max;
          row.state.textContent = "uploaded";
          row.li.classList.add("done");
          resolve();
        } else {
          reject(new Error(`the bucket answered ${xhr.status}`));
        }
      };
      xhr.onerror = () => reject(new Error("network error"));
      row.state.textContent = "0%";
      xhr.send(file);
    });
  }

  let uploading = 0; // files on their way to the bucket: leaving the page now would lose them
  const sending = { list: null, total: 0 }; // the batch on its way: its rows outlive a change of view

  // The header says how far a batch is on every view; back on the upload view, its rows return.
  function showSending() {
    const status = $("#upload-status");
    status.hidden = uploading === 0;
    status.textContent = uploading ? `Uploading: ${sending.total - uploading} of ${sending.total} photos sent` : "";
  }

  function resumeUpload(form) {
    if (!uploading || !sending.list) return;
    form.querySelector("[data-upload-list]").replaceWith(sending.list);
    for (const el of $$("button, input[type=file]", form)) el.disabled = true;
  }
  window.addEventListener("beforeunload", (event) => {
    if (uploading > 0) {
      event.preventDefault();
      event.returnValue = "";
    }
  });

  const TERMINAL = {
    auto_accepted: "accepted",
    verified: "accepted",
    published: "accepted",
    needs_review: "to review",
    rejected: "rejected",
  };

  // Waits until the seller's products change (a live event) or BATCH_CHECK_MS pass.
  const wakers = new Set();
  function nextChange() {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        wakers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, BATCH_CHECK_MS);
      wakers.add(done);
    });
  }

  const totalling = new Map(); // batch id -> the sending whose totals are awaited (the latest)

  // Once every photo of a sending has an answer: one line of totals ("12 accepted, 2 to review,
  // 1 rejected"). A retry of the batch's failed files takes over: the earlier line is not shown.
  async function batchTotals(objects, batch, sentLine) {
    const files = new Set(objects.map((name) => name.split("/").slice(2).join("/")));
    const mine = {};
    const key = batch ? batch.id : mine;
    totalling.set(key, mine);
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline) {
      await nextChange();
      if (totalling.get(key) !== mine) return;
      let rows;
      try {
        const response = await api("/api/seller/products", { headers: { Accept: "application/json" } });
        rows = (await response.json()).products || [];
      } catch (error) {
        return; // signed out meanwhile
      }
      const done = rows.filter((row) => files.has(row.file) && TERMINAL[row.status]);
      if (done.length < files.size) continue;
      totalling.delete(key);
      const counts = {};
      for (const row of done) counts[TERMINAL[row.status]] = (counts[TERMINAL[row.status]] || 0) + 1;
      const parts = ["accepted", "to review", "rejected"].filter((k) => counts[k]).map((k) => `${counts[k]} ${k}`);
      const photos = files.size === 1 ? "The photo is" : `All ${files.size} photos are`;
      // The line about the sending stays in front: it may have been on screen only a moment.
      flash(`${sentLine} ${photos} classified: ${parts.join(", ")}.`, counts.rejected ? "error" : "ok");
      return;
    }
  }

  // Sends the files (sessions from the API, then PUT straight to the bucket); returns those that
  // failed and the batch they belong to (a retry sends them again in that batch).
  async function sendBatch(files, rows, batch) {
    let sessions;
    try {
      const payload = { files: files.map((f) => ({ name: f.name, size: f.size, content_type: f.type })) };
      if (batch) payload.batch = batch;
      sessions = (await postJson("/api/uploads", payload)).sessions;
    } catch (error) {
      if (!(error instanceof SignedOut)) flash(error.message, "error", error.problems || []);
      for (const row of rows) row.state.textContent = "not sent";
      return { failed: files.map((file, i) => ({ file, row: rows[i] })), objects: [], batch };
    }
    const failed = [];
    const objects = [];
    uploading += files.length;
    sending.total = uploading;
    showSending();
    await Promise.all(
      files.map((file, i) => {
        rows[i].li.classList.remove("failed");
        return put(sessions[i], file, rows[i])
          .then(
            () => objects.push(sessions[i].object),
            (error) => {
              rows[i].state.textContent = `failed: ${error.message}`;
              rows[i].li.classList.add("failed");
              failed.push({ file, row: rows[i] });
            },
          )
          .finally(() => {
            uploading -= 1;
            showSending();
          });
      }),
    );
    return { failed, objects, batch: sessions[0] && sessions[0].batch };
  }

  // A failed file gets a button to send it (and the others that failed) again.
  function offerRetry(form, failed, batch) {
    let retry = form.querySelector("[data-retry]");
    if (!failed.length) {
      if (retry) retry.remove();
      return;
    }
    if (!retry) {
      retry = document.createElement("button");
      retry.type = "button";
      retry.dataset.retry = "";
      form.querySelector("[type=submit]").after(retry);
    }
    retry.textContent = `Retry the ${failed.length} that failed`;
    retry.onclick = () => upload(form, failed.map((f) => f.file), failed.map((f) => f.row), batch);
  }

  async function upload(form, files, rows, batch) {
    const controls = (f) => $$("button, input[type=file]", f);
    for (const el of controls(form)) el.disabled = true; // a second click would send the batch again
    sending.list = form.querySelector("[data-upload-list]");
    clearFlash();
    if (batch) totalling.delete(batch.id); // a retry: the first sending's totals give way to its own
    try {
      const sent = await sendBatch(files, rows, batch);
      const { failed, objects } = sent;
      // The person may have gone to another view and back meanwhile: the form shown now.
      form = $("form[data-upload]") || form;
      offerRetry(form, failed, sent.batch);
      const done = files.length - failed.length;
      const sentLine = `${done} of ${files.length} photos uploaded`;
      flash(
        failed.length
          ? `${sentLine}; retry the ${failed.length} that failed.`
          : `${sentLine}; they are being classified.`,
        failed.length ? "error" : "ok",
      );
      if (objects.length) batchTotals(objects, sent.batch, `${sentLine}.`);
    } finally {
      for (const el of controls(form)) el.disabled = false;
    }
  }

  async function submitUpload(event) {
    event.preventDefault();
    const form = event.currentTarget;
    const input = form.querySelector("input[type=file]");
    const list = form.querySelector("[data-upload-list]");
    const files = Array.from(input.files || []);
    clearFlash();
    if (!files.length) {
      flash("Choose at least one photo.", "error");
      return;
    }
    if (files.length > cfg.maxFiles) {
      flash(`At most ${cfg.maxFiles} photos at once: you chose ${files.length}.`, "error");
      return;
    }
    const tooBig = files.filter((f) => f.size > cfg.maxBytes).map((f) => f.name);
    if (tooBig.length) {
      flash(`Over the ${(cfg.maxBytes / 1e6).toFixed(0)} MB limit: ${tooBig.join(", ")}`, "error");
      return;
    }
    const current = chosen.get(form);
    const same = current && current.files.length === files.length && current.files.every((f, i) => f === files[i]);
    let rows = same ? current.rows : null;
    if (!rows) {
      list.replaceChildren();
      rows = files.map((file) => uploadRow(list, file));
      files.forEach((file, i) => preview(file, rows[i]));
    }
    await upload(form, files, rows);
    input.value = "";
    chosen.delete(form);
  }

  // --- live updates: the server's events renew what changed --------------------------------

  async function refresh(el) {
    const response = await api(el.dataset.fragment, { headers: { Accept: "text/html" } });
    if (!response.ok) return;
    el.innerHTML = await response.text();
    hydrate(el);
  }

  let liveStream = null; // the AbortController of the open stream
  let unread = null;

  function showUnread(count) {
    const badge = $("#unread");
    badge.hidden = !count;
    badge.textContent = `${count} unread`;
    badge.setAttribute("aria-label", `${count} unread notifications`);
    if (unread !== null && count !== unread) {
      for (const el of $$("[data-live-notifications]")) refresh(el).catch(() => {});
    }
    unread = count;
  }

  function productsChanged() {
    for (const el of $$("[data-live-products]")) refresh(el).catch(() => {});
    // A list someone is working through (the queue) is not reshuffled under the pointer: it says so.
    for (const banner of $$("[data-live-banner]")) banner.hidden = false;
    for (const wake of Array.from(wakers)) wake();
  }

  let lastEventId = ""; // the server's time of the last message: the next stream starts from it

  function onLiveEvent(block) {
    let kind = "";
    let data = "";
    for (const line of block.split("\n")) {
      if (line.startsWith("event: ")) kind = line.slice(7);
      else if (line.startsWith("data: ")) data += line.slice(6);
      else if (line.startsWith("id: ")) lastEventId = line.slice(4);
    }
    if (!kind) return; // a comment (keep-alive) or the retry hint
    const payload = JSON.parse(data || "{}");
    if (kind === "notifications") {
      showUnread(payload.unread || 0);
      body.dataset.live = "open"; // the stream is up (tests wait for it)
    }
    else if (kind === "products") productsChanged(payload.ids || []);
  }

  // One stream at a time while signed in and the tab is visible; each lasts under a minute
  // (the server closes it) and the next opens at once; after a failure, in a few seconds.
  async function live(person) {
    while (me === person) {
      if (document.hidden) {
        await new Promise((resolve) => document.addEventListener("visibilitychange", resolve, { once: true }));
        continue;
      }
      const controller = new AbortController();
      liveStream = controller;
      let pause = 5000;
      try {
        const since = lastEventId ? `?since=${encodeURIComponent(lastEventId)}` : "";
        const response = await api(`/api/live${since}`, {
          headers: { Accept: "text/event-stream" },
          signal: controller.signal,
        });
        if (response.ok && response.body) {
          const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
          let buffer = "";
          for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            buffer += value;
            let cut;
            while ((cut = buffer.indexOf("\n\n")) >= 0) {
              onLiveEvent(buffer.slice(0, cut));
              buffer = buffer.slice(cut + 2);
            }
          }
          pause = 0;
        }
      } catch (error) {
        if (error instanceof SignedOut) return;
      }
      if (liveStream === controller) liveStream = null;
      delete body.dataset.live;
      if (pause) await new Promise((resolve) => setTimeout(resolve, pause));
    }
  }

  function stopLive() {
    if (liveStream) liveStream.abort();
    liveStream = null;
    unread = null;
    lastEventId = "";
    $("#unread").hidden = true;
  }

  // A hidden tab keeps no stream open (it would hold a function instance for nothing).
  document.addEventListener("visibilitychange", () => {
    if (document.hidden && liveStream) liveStream.abort();
  });

  // --- wiring ---------------------------------------------------------------------------

  $("#sign-in-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    const button = form.querySelector("[type=submit]");
    button.disabled = true;
    try {
      await signIn(form.email.value.trim(), form.password.value);
      form.password.value = "";
      clearFlash();
      await start();
    } catch (error) {
      flash(error.message, "error");
    } finally {
      button.disabled = false;
    }
  });
  $("#sign-out").addEventListener("click", () => {
    signOut();
    history.replaceState(null, "", location.pathname);
  });
  window.addEventListener("hashchange", route);
  if (session) start();
})();
