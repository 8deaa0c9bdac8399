// The chat simulator without page reloads: post a form, append what was said and the reply. Without this
// script the same forms post normally and the page shows the stored history.
(function () {
  "use strict";
  var chat = document.querySelector(".chat");
  var log = chat.querySelector(".chat-log");
  var POLL_MS = 3000;

  function bubble(who, text) {
    var item = document.createElement("li");
    var avatar = document.createElement("span");
    var body = document.createElement("p");
    item.className = "msg " + who;
    avatar.className = "avatar";
    avatar.setAttribute("aria-hidden", "true");
    avatar.textContent = who === "me" ? "我" : "清";
    body.className = "bubble";
    body.textContent = text;
    item.append(avatar, body);
    log.append(item);
    return item;
  }

  // The newest message just above the compose bar, as a phone shows it. (The bar is sticky, so scrolling it
  // into view does nothing: it is always in view.)
  function toEnd() {
    window.scrollTo(0, document.documentElement.scrollHeight);
  }

  // Notices the worker receives later (签收, 受理, a staff member's message, 工资到手了吗), as a phone would.
  function poll() {
    fetch(chat.dataset.notices + "?after=" + chat.dataset.lastNotice, {
      credentials: "same-origin", headers: {"Accept": "application/json"}
    }).then(function (response) {
      if (!response.ok) throw new Error(response.status);
      return response.json();
    }).then(function (result) {
      result.notices.forEach(function (notice) { bubble("them", notice.text); });
      chat.dataset.lastNotice = result.last;
      if (result.notices.length) toEnd();
    }).catch(function () {}).finally(function () {
      window.setTimeout(poll, POLL_MS);
    });
  }

  chat.querySelectorAll("form[data-chat]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var button = form.querySelector("button[type=submit]");
      var input = form.querySelector("input[name=text]");
      if (button.disabled || (input && !input.value.trim())) return;
      button.disabled = true;
      // Sent again after a failure, the message keeps its id, so the server answers it once only.
      fetch(form.action, {
        method: "POST", body: new FormData(form), credentials: "same-origin",
        headers: {"X-CSRFToken": chat.dataset.csrf, "Accept": "application/json"}
      }).then(function (response) {
        if (!response.ok) throw new Error(response.status);
        return response.json();
      }).then(function (result) {
        bubble("me", result.said);
        if (result.reply) bubble("them", result.reply);
        chat.querySelectorAll("input[name=message_id]").forEach(function (field) { field.value = result.message_id; });
        if (input) input.value = "";
        form.closest("details") && form.closest("details").removeAttribute("open");
      }).catch(function () {
        var note = document.createElement("li");
        note.className = "chat-note";
        note.textContent = "没有发出去，请再点一次发送。";
        log.append(note);
      }).finally(function () {
        button.disabled = false;
        toEnd();
        if (input) input.focus();
      });
    });
  });
  toEnd();
  window.setTimeout(poll, POLL_MS);
})();
