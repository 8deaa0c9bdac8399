// Optional: show that a slow upload is under way and stop a second tap; the server dedupes anyway.
(function () {
  "use strict";
  var form = document.querySelector("form.complaint");
  var button = form && form.querySelector("button[type=submit]");
  if (!button) return;
  form.addEventListener("submit", function () {
    button.disabled = true;
    button.textContent = "正在提交，请稍候…";
  });
  window.addEventListener("pageshow", function () {
    button.disabled = false;
    button.textContent = "提交";
  });
})();
