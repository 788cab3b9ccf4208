/*!
 * Evergreen Wealth 长青财富 — what the three browser front ends share: the website chat widget
 * (widget.js), the agent console (console.js) and the supervisors' quality dashboard (quality.js).
 *
 * Plain JavaScript, no dependencies, no build step. Kept with the widget's files, so it is served
 * at /static/shared.js (widget.js adds it to the firm's page itself: one tag stays one tag) and,
 * the same file, at /console/static/shared.js (bot/console/pages.py) for the console's pages,
 * which load it with a <script> tag before their own script.
 *
 * window.EvergreenShared = {
 *   request(method, url, body, options) — fetch with JSON in and out; see below;
 *   responseError(res, data, fallback) — the service's error answer as an Error (its .code is
 *     what the console pages put in words, bot/console/static/i18n.js)
 * }
 */
(function () {
  'use strict';

  if (window.EvergreenShared) return; // added twice (e.g. by a second widget tag): keep the first

  // An answer that is not a success with a JSON body, as an Error: the service's error body
  // {"error": {"code", "message"}} (docs/contact-api.md, "Errors") gives the message and .code;
  // without one, fallback is the message and the code is http_<status> ('invalid_response' for a
  // success without a body). .status is the HTTP status, .retryAfter the seconds of Retry-After,
  // .details the error body as sent (a refused reply's compliance findings, for one).
  function responseError(res, data, fallback) {
    var error = data && data.error;
    var err = new Error((error && error.message) || fallback);
    err.status = res.status;
    err.code = (error && error.code) || (res.ok ? 'invalid_response' : 'http_' + res.status);
    err.details = error || null;
    var retry = parseInt(res.headers.get('Retry-After') || '', 10);
    if (retry > 0) err.retryAfter = retry;
    return err;
  }

  // fetch(url) with a JSON body (when body is not undefined), never from the cache; resolves with
  // the answer's JSON, rejects with responseError(…) or, when the service cannot be reached, an
  // Error with code 'network'. options (all optional):
  //   headers      more request headers (e.g. Authorization, X-CSRF-Token)
  //   credentials  fetch's credentials, 'same-origin' unless given
  //   httpMessage  function (status): the message of an error answer without one
  //                (default 'The service answered HTTP <status>.')
  //   unreachable  the message of the network error (default 'Cannot reach the contact service.')
  function request(method, url, body, options) {
    var o = options || {};
    var headers = { Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    Object.keys(o.headers || {}).forEach(function (name) { headers[name] = o.headers[name]; });
    return fetch(url, {
      method: method,
      headers: headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: o.credentials || 'same-origin',
      cache: 'no-store'
    }).then(function (res) {
      return res.text().then(function (raw) {
        var data = null;
        try { data = raw ? JSON.parse(raw) : null; } catch (e) { data = null; }
        if (res.ok && data) return data;
        throw responseError(res, data, o.httpMessage ? o.httpMessage(res.status)
          : 'The service answered HTTP ' + res.status + '.');
      });
    }, function () {
      var err = new Error(o.unreachable || 'Cannot reach the contact service.');
      err.code = 'network';
      throw err;
    });
  }

  window.EvergreenShared = { request: request, responseError: responseError };
})();
