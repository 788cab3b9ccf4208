/* The demo page's script (demo.html; a file, not inline, so the page's CSP allows no inline script).
   ?lang=en shows the English page (and so the English widget).
   ?as=<customer id> signs in as that demo customer: the demo service signs an identity
   token (a real site's backend would), and the widget is loaded with it. */
(function () {
  var params = new URLSearchParams(location.search);
  if ((params.get('lang') || '').toLowerCase().indexOf('en') === 0) {
    document.documentElement.lang = 'en';
    document.addEventListener('DOMContentLoaded', function () {  // labels read out, not shown: data-label-en
      document.querySelectorAll('[data-label-en]').forEach(function (el) { el.setAttribute('aria-label', el.getAttribute('data-label-en')); });
    });
  }
  var customerId = params.get('as');
  if (!customerId) return;
  // The page's one-tag embed (widget.js, deferred: it runs after this) then waits for the token instead of starting a visitor chat.
  window.EvergreenChatConfig = { awaitIdentityToken: true };
  window.evergreenDemoCustomer = customerId;
  fetch('/demo/identity-token?customer_id=' + encodeURIComponent(customerId), { cache: 'no-store' })
    .then(function (res) {
      if (!res.ok) throw new Error('HTTP ' + res.status);
      return res.json();
    })
    .then(function (data) { return data.identity_token || ''; })
    .catch(function (err) {
      console.warn('demo identity token unavailable, continuing as a visitor:', err);
      return '';
    })
    .then(function (token) {
      // After the page (and so the one-tag embed, which runs first) has been parsed.
      if (document.readyState === 'loading') {
        return new Promise(function (resolve) {
          document.addEventListener('DOMContentLoaded', function () { resolve(token); });
        });
      }
      return token;
    })
    .then(function (token) {
      var tag = document.createElement('script');
      tag.src = '/static/widget.js';
      tag.defer = true;
      if (token) tag.setAttribute('data-identity-token', token);
      document.body.appendChild(tag);
      var who = document.getElementById('demo-who');
      if (who) {
        who.hidden = false;
        who.querySelector('[data-customer]').textContent = customerId + (token ? '' : ' ✕');
      }
    });
})();
