/**
 * The admin page's script, served from /admin/assets/admin.js. Progressive enhancement only:
 * every page works without it (forms post and the server renders the outcome).
 *
 * What it adds:
 * - the "Use modern SMTP Authentication" switch shows and hides the SMTP sections instantly
 *   and the Transport select the fields of one transport (SMTP or Graph);
 *   (the hidden section is also disabled, so its fields are not submitted);
 * - forms marked `data-enhance="id1 id2"` are sent with fetch and the named regions are
 *   replaced in place from the server's page (the live region announces the outcome), with a
 *   busy state on the button;
 * - "Copy" buttons next to commands and the new API key;
 * - forms marked `data-confirm="question"` ask with the browser's confirm dialog and then post
 *   `confirmed=yes` (without the script the server asks on a page of its own);
 * - focus moves to an error summary when a page has one.
 *
 * Why a TypeScript string: see ./admin-css.ts. No inline script anywhere, so the page's
 * Content-Security-Policy can forbid inline scripts.
 *
 * Imports: nothing.
 */
export const ADMIN_JS = `'use strict';
(function () {
  function $(id) { return document.getElementById(id); }

  function setSection(el, on) {
    if (!el) return;
    el.hidden = !on;
    el.disabled = !on;
  }
  function wireModernSwitch() {
    var box = $('useModernAuth');
    if (!box) return;
    var apply = function () {
      setSection($('modern-section'), box.checked);
      setSection($('basic-section'), !box.checked);
    };
    box.addEventListener('change', apply);
  }
  // The Transport select shows the fields of one transport only where they apply
  // (SMTP: smtp and auto; Graph: graph and auto); hidden fields are still submitted.
  function wireTransport() {
    var select = $('modern-transport');
    if (!select) return;
    select.addEventListener('change', function () {
      var t = select.value;
      var parts = document.querySelectorAll('#modern-section [data-transport-only], .advanced [data-transport-only]');
      for (var i = 0; i < parts.length; i++) {
        var only = parts[i].getAttribute('data-transport-only');
        parts[i].hidden = !(t === 'auto' || t === only);
      }
    });
  }

  function announce(text) {
    var status = $('copy-status');
    if (!status) return;
    status.textContent = '';
    window.setTimeout(function () { status.textContent = text; }, 50);
  }
  function fallbackCopy(text) {
    var area = document.createElement('textarea');
    area.value = text;
    area.setAttribute('readonly', '');
    area.style.position = 'fixed';
    area.style.opacity = '0';
    document.body.appendChild(area);
    area.select();
    var ok = false;
    try { ok = document.execCommand('copy'); } catch (e) { ok = false; }
    document.body.removeChild(area);
    return ok;
  }
  function showCopyButtons(root) {
    var buttons = root.querySelectorAll('button.copy[hidden]');
    for (var i = 0; i < buttons.length; i++) buttons[i].hidden = false;
  }
  function wireCopy() {
    showCopyButtons(document);
    document.addEventListener('click', function (event) {
      var button = event.target instanceof Element ? event.target.closest('button.copy') : null;
      if (!button) return;
      var source = $(button.getAttribute('data-copy') || '');
      if (!source) return;
      var text = source.textContent || '';
      var done = function (ok) {
        var label = button.getAttribute('data-label') || button.textContent;
        button.setAttribute('data-label', label);
        button.textContent = ok ? 'Copied' : 'Select and copy';
        announce(ok ? 'Copied to the clipboard.' : 'Copying failed; select the text and copy it.');
        window.setTimeout(function () { button.textContent = label; }, 2000);
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(function () { done(true); }, function () { done(fallbackCopy(text)); });
      } else {
        done(fallbackCopy(text));
      }
    });
  }

  function focusFirst(root) {
    var target = root.querySelector('[data-focus]');
    if (target) target.focus();
  }

  function wireEnhancedForms() {
    var forms = document.querySelectorAll('form[data-enhance]');
    for (var i = 0; i < forms.length; i++) enhance(forms[i]);
  }
  function enhance(form) {
    form.addEventListener('submit', function (event) {
      if (form.getAttribute('data-busy') === '1') { event.preventDefault(); return; }
      event.preventDefault();
      var ids = (form.getAttribute('data-enhance') || '').split(/\\s+/).filter(Boolean);
      var button = form.querySelector('button[type=submit]');
      var label = button ? button.textContent : '';
      var busy = form.getAttribute('data-busy-text');
      form.setAttribute('data-busy', '1');
      if (button) { button.disabled = true; if (busy) button.textContent = busy; }
      ids.forEach(function (id) { var el = $(id); if (el) el.setAttribute('aria-busy', 'true'); });
      var body = new URLSearchParams(new FormData(form));
      fetch(form.action, { method: 'POST', body: body, credentials: 'same-origin', headers: { 'X-Requested-With': 'fetch' } })
        .then(function (response) {
          if (response.redirected || response.status === 403) {
            window.location.assign(response.redirected ? response.url : window.location.href);
            return null;
          }
          return response.text();
        })
        .then(function (text) {
          if (text === null) return;
          var doc = new DOMParser().parseFromString(text, 'text/html');
          if (!ids.some(function (id) { return doc.getElementById(id); })) {
            form.removeAttribute('data-busy');
            form.submit();
            return;
          }
          ids.forEach(function (id) {
            var current = $(id);
            var next = doc.getElementById(id);
            if (current && next) current.innerHTML = next.innerHTML;
          });
          ids.forEach(function (id) { var el = $(id); if (el) { showCopyButtons(el); } });
          var first = ids.map($).filter(Boolean)[0];
          var focusTarget = null;
          ids.forEach(function (id) { var el = $(id); if (!focusTarget && el) focusTarget = el.querySelector('[data-focus]'); });
          if (focusTarget) focusTarget.focus();
          else if (first) first.focus();
        })
        .catch(function () {
          announce('The request failed; the page is sent again without the script.');
          form.removeAttribute('data-busy');
          form.submit();
        })
        .then(function () {
          form.removeAttribute('data-busy');
          if (button) { button.disabled = false; button.textContent = label; }
          ids.forEach(function (id) { var el = $(id); if (el) el.removeAttribute('aria-busy'); });
        });
    });
  }

  function wireConfirm() {
    document.addEventListener('submit', function (event) {
      var form = event.target;
      if (!(form instanceof HTMLFormElement) || !form.hasAttribute('data-confirm')) return;
      if (!window.confirm(form.getAttribute('data-confirm') || 'Are you sure?')) { event.preventDefault(); return; }
      if (!form.querySelector('input[name=confirmed]')) {
        var yes = document.createElement('input');
        yes.type = 'hidden';
        yes.name = 'confirmed';
        yes.value = 'yes';
        form.appendChild(yes);
      }
    });
  }

  function start() {
    wireModernSwitch();
    wireTransport();
    wireConfirm();
    wireCopy();
    wireEnhancedForms();
    focusFirst(document);
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
`;
