// Stalwart console: actions through the JSON API (with the CSRF token), live regions
// refreshed in place (the page's own HTML fragment, header X-Live: 1), login/logout.
(function () {
  "use strict";
  const meta = document.querySelector('meta[name="csrf-token"]');
  const csrf = () => (meta ? meta.content : "");

  async function api(method, url, body) {
    const init = {
      method: method,
      credentials: "same-origin",
      headers: { "Accept": "application/json", "X-CSRF-Token": csrf() },
    };
    if (body !== undefined && method !== "GET") {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(url, init);
    let data = null;
    try { data = await response.json(); } catch (e) { data = null; }
    if (!response.ok) {
      const message = data && data.error ? data.error.message : response.statusText;
      const error = new Error(message);
      error.status = response.status;
      throw error;
    }
    return data;
  }

  function flash(text, bad) {
    const box = document.getElementById("flash");
    if (!box) return;
    box.textContent = text;
    box.className = bad ? "flash bad" : "flash ok";
  }

  async function refresh() {
    const live = document.getElementById("live");
    if (!live) return;
    const focused = document.activeElement;
    if (focused && live.contains(focused) && focused.matches("input, select, textarea")) return;
    const response = await fetch(location.href, { headers: { "X-Live": "1" }, credentials: "same-origin" });
    if (response.ok) {
      live.innerHTML = await response.text();
      document.dispatchEvent(new Event("live:updated"));
    }
  }

  window.stalwart = { api: api, flash: flash, refresh: refresh };

  const live = document.getElementById("live");
  const every = live ? Number(live.dataset.live || 0) : 0;
  if (every > 0) setInterval(function () { refresh().catch(function () {}); }, every * 1000);

  document.addEventListener("click", async function (event) {
    const button = event.target.closest("[data-action]");
    if (!button) return;
    event.preventDefault();
    if (button.dataset.confirm && !window.confirm(button.dataset.confirm)) return;
    button.disabled = true;
    try {
      const body = button.dataset.body ? JSON.parse(button.dataset.body) : {};
      await api(button.dataset.method || "POST", button.dataset.action, body);
      flash(button.dataset.done || "done", false);
      await refresh();
    } catch (error) {
      flash(error.message, true);
    } finally {
      button.disabled = false;
    }
  });

  document.addEventListener("click", async function (event) {
    if (!event.target.closest("[data-logout]")) return;
    try { await api("DELETE", "/api/session"); } catch (e) { /* already out */ }
    location.href = "/login";
  });

  const login = document.getElementById("login");
  if (login) {
    login.addEventListener("submit", async function (event) {
      event.preventDefault();
      const form = new FormData(login);
      try {
        await api("POST", "/api/session", { username: form.get("username"), password: form.get("password") });
        location.href = login.dataset.next || "/";
      } catch (error) {
        flash(error.message, true);
      }
    });
  }
})();
