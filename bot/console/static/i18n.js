/*!
 * Evergreen Wealth 长青财富 — the staff pages' language (the agent console and the quality
 * dashboard): Simplified Chinese or English, from the message catalogues
 * bot/console/locales/<language>.json, served at /console/locales/<language>.json.
 *
 * Plain JavaScript, no build step; loaded before console.js / quality.js.
 *
 * window.EvergreenI18n = {
 *   language                 the language shown now ('zh' or 'en');
 *   use(language)            load that catalogue (once), apply it to the page, tell the listeners;
 *                            a Promise;
 *   browserLanguage()        'en' for a browser asking for English, else 'zh' (the page before login);
 *   t(key, params)           the text of key, with {name} placeholders filled from params;
 *   label(group, code)       t(group + '.' + code), or the code itself when the catalogue has no such
 *                            key (a code the service added later);
 *   error(err)               an Error of shared.js's request() in words: error.<code> of the
 *                            catalogue, else the service's own (English) message;
 *   apply(root)              fill data-i18n (text), data-i18n-placeholder, data-i18n-title and
 *                            data-i18n-aria-label under root (the whole document by default);
 *   onChange(fn)             fn(language) after every use() that changed the language;
 *   dateTime(iso)            'YYYY-MM-DD HH:mm' and the weekday (周一…周日 / Mon…Sun), Beijing time;
 *   time(iso)                'HH:mm', Beijing time;
 *   number(n)                n with the language's digit grouping
 * }
 */
(function () {
  'use strict';

  var LANGUAGES = ['zh', 'en'];
  var LOCALES = { zh: 'zh-CN', en: 'en-US' };
  var catalogues = {};
  var listeners = [];
  var formats = {};

  function known(language) { return LANGUAGES.indexOf(language) >= 0 ? language : 'zh'; }

  function load(language) {
    if (catalogues[language]) return Promise.resolve(catalogues[language]);
    return fetch('/console/locales/' + language + '.json', { credentials: 'same-origin' }).then(function (res) {
      if (!res.ok) throw new Error('catalogue ' + language + ': HTTP ' + res.status);
      return res.json();
    }).then(function (catalogue) {
      catalogues[language] = catalogue;
      return catalogue;
    });
  }

  function fill(text, params) {
    return text.replace(/\{(\w+)\}/g, function (whole, name) {
      return params && Object.prototype.hasOwnProperty.call(params, name) ? String(params[name]) : whole;
    });
  }

  function has(key) {
    var catalogue = catalogues[I18n.language];
    return !!catalogue && Object.prototype.hasOwnProperty.call(catalogue, key);
  }

  function t(key, params) {
    return has(key) ? fill(catalogues[I18n.language][key], params) : key;
  }

  function label(group, code) {
    if (code === null || code === undefined || code === '') return '—';
    return has(group + '.' + code) ? t(group + '.' + code) : String(code);
  }

  function error(err) {
    if (!err) return t('error.unknown');
    if (err.code && has('error.' + err.code)) return t('error.' + err.code);
    if (/^http_\d+$/.test(err.code || '')) return t('error.http', { status: err.status }); // no error body
    return err.message || t('error.unknown');
  }

  var ATTRIBUTES = [['data-i18n-placeholder', 'placeholder'], ['data-i18n-title', 'title'],
    ['data-i18n-aria-label', 'aria-label']];

  function apply(root) {
    var scope = root || document;
    Array.prototype.forEach.call(scope.querySelectorAll('[data-i18n]'), function (node) {
      node.textContent = t(node.getAttribute('data-i18n'));
    });
    ATTRIBUTES.forEach(function (pair) {
      Array.prototype.forEach.call(scope.querySelectorAll('[' + pair[0] + ']'), function (node) {
        node.setAttribute(pair[1], t(node.getAttribute(pair[0])));
      });
    });
    if (!root) document.documentElement.lang = LOCALES[I18n.language];
  }

  function use(language) {
    var next = known(language);
    return load(next).then(function () {
      var changed = next !== I18n.language;
      I18n.language = next;
      formats = {};
      apply();
      if (changed) listeners.forEach(function (fn) { fn(next); });
      return next;
    });
  }

  function browserLanguage() {
    var asked = (navigator.languages && navigator.languages[0]) || navigator.language || '';
    return /^en\b/i.test(asked) ? 'en' : 'zh';
  }

  // Beijing time as its parts; Intl names the weekday in the page's language.
  function parts(iso) {
    var d = new Date(iso);
    if (!iso || isNaN(d.getTime())) return null;
    if (!formats.parts) {
      formats.parts = new Intl.DateTimeFormat('en-CA', {
        timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit', day: '2-digit',
        hour: '2-digit', minute: '2-digit', hourCycle: 'h23'
      });
      formats.weekday = new Intl.DateTimeFormat(LOCALES[I18n.language], { timeZone: 'Asia/Shanghai', weekday: 'short' });
    }
    var out = {};
    formats.parts.formatToParts(d).forEach(function (p) { out[p.type] = p.value; });
    out.weekday = formats.weekday.format(d);
    return out;
  }

  function dateTime(iso) {
    var p = parts(iso);
    return p ? p.year + '-' + p.month + '-' + p.day + ' ' + p.hour + ':' + p.minute + ' ' + p.weekday : '—';
  }

  function time(iso) {
    var p = parts(iso);
    return p ? p.hour + ':' + p.minute : '';
  }

  function number(n) { return Number(n).toLocaleString(LOCALES[I18n.language]); }

  var I18n = {
    language: null,
    use: use,
    browserLanguage: browserLanguage,
    t: t,
    label: label,
    error: error,
    apply: apply,
    onChange: function (fn) { listeners.push(fn); },
    dateTime: dateTime,
    time: time,
    number: number
  };
  window.EvergreenI18n = I18n;
})();
