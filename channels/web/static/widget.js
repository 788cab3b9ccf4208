/*!
 * Evergreen Wealth 长青财富 — website chat widget.
 *
 * Embed with one tag:
 *   <script src="https://HOST/static/widget.js" data-identity-token="(optional JWT)" defer></script>
 *
 * Plain modern JavaScript, no build step; its one companion, shared.js (the HTTP helper it shares
 * with the console pages), it loads itself from next to widget.js. Speaks the contact-service API
 * (docs/contact-api.md): POST /api/v1/sessions, GET|POST /api/v1/messages, WebSocket /api/v1/ws,
 * and POST /api/v1/link-codes (a verified customer linking Telegram, when the service offers it).
 * Every piece of message text is inserted with textContent, never as HTML.
 *
 * Page-level options (all optional), set before the script runs:
 *   window.EvergreenChatConfig = { awaitIdentityToken: true }
 *     The page will hand over an identity token shortly (another <script src=".../widget.js"
 *     data-identity-token="..."> tag, or EvergreenChat.setIdentityToken(token)); the widget
 *     starts no conversation until then (at most 8 s, then it continues as a visitor).
 * Public API: window.EvergreenChat = { version, open(), close(), toggle(), setLanguage('zh'|'en'),
 *   setIdentityToken(token|null) }.
 */
(function () {
  'use strict';

  var VERSION = '1.0.0';

  // ------------------------------------------------------------------ where we come from
  var script = document.currentScript || (function () {
    var tags = document.querySelectorAll('script[src]');
    for (var i = tags.length - 1; i >= 0; i--) {
      if (/\/widget\.js(?:[?#]|$)/.test(tags[i].src)) return tags[i];
    }
    return null;
  })();
  if (!script) return;
  var tagToken = script.getAttribute('data-identity-token') || '';

  // A second tag (e.g. one created after the page fetched an identity token) hands over to the
  // widget that is already running instead of rendering a second one.
  if (window.EvergreenChat && window.EvergreenChat.version) {
    if (typeof window.EvergreenChat._handOver === 'function') window.EvergreenChat._handOver(tagToken || null);
    return;
  }

  var SCRIPT_URL = new URL(script.src, location.href);
  var BASE = new URL('../', SCRIPT_URL).href.replace(/\/+$/, ''); // …/static/widget.js → service root
  var WS_BASE = BASE.replace(/^http/i, 'ws');
  var CSS_URL = new URL('widget.css', SCRIPT_URL).href;
  var SHARED_URL = new URL('shared.js', SCRIPT_URL).href; // the helpers shared with the console pages
  var CONFIG = window.EvergreenChatConfig || {};
  var MAX_CHARS = 2000;
  var TYPING_REFRESH_MS = 8000; // re-send "typing on" at most this often while the customer types
  var TYPING_IDLE_MS = 3000;    // "typing off" after this long without a keystroke
  var LINK_CODE_MINUTES = 10;   // a Telegram link code's lifetime (POST /api/v1/link-codes)

  // ------------------------------------------------------------------ UI strings
  var STRINGS = {
    zh: {
      launcher: '在线咨询',
      launcherOpen: '打开在线客服对话',
      launcherClose: '关闭在线客服对话',
      unread: '（{n} 条新消息）',
      title: '长青财富 在线客服',
      subtitle: '智能助手 7×24 · 人工客服 09:00\u2060–\u206021:00',
      close: '关闭对话窗口',
      langGroup: '界面语言',
      log: '对话消息',
      welcome: '您好！我是长青财富智能助手，可以为您介绍产品，解答开户、交易、赎回等常见问题，查询网点。人工客服服务时间为每天 09:00–21:00（北京时间）。',
      inputLabel: '输入您的消息',
      placeholder: '请输入您的问题，按 Enter 发送',
      send: '发送',
      you: '我',
      bot: '长青智能助手',
      agent: '人工客服',
      system: '系统通知',
      typing: '对方正在输入…',
      disclosure: '风险提示',
      quickReplies: '快捷回复',
      sending: '发送中…',
      failed: '未发送',
      retry: '重新发送',
      dismiss: '关闭提示',
      reconnecting: '连接已中断，正在重新连接…',
      queue: '正在排队等候人工客服：前面还有 {ahead} 位，预计约 {minutes} 分钟',
      footer: '客服热线 400-820-8888 · 理财非存款，产品有风险，投资须谨慎。',
      tgOffer: '在 Telegram 上继续',
      tgTitle: '在 Telegram 上继续',
      tgClose: '关闭关联码',
      tgCodeLabel: '您的一次性关联码',
      tgValid: '有效期 {minutes} 分钟（至 {until}），仅可使用一次。',
      tgValidShort: '有效期 {minutes} 分钟，仅可使用一次。',
      tgExpired: '此关联码已过期。如需关联，请点击下方「在 Telegram 上继续」重新获取。',
      tgOpen: '打开 Telegram',
      tgHelp: '如果 Telegram 没有打开，请在 Telegram 中找到 @{bot}，发送：',
      tgHelpNoLink: '请在 Telegram 中找到 @{bot}，发送：',
      errors: {
        rate_limited: '您发送得有点快了，请稍候片刻再试。',
        rate_limited_s: '您发送得有点快了，请 {s} 秒后再试。',
        message_too_long: '消息太长了，请精简到 2000 字以内后再发送。',
        empty_message: '请先输入内容再发送。',
        network: '暂时无法连接客服系统，请检查网络后重试。',
        invalid_identity: '您的登录状态已失效，本次将以访客身份为您服务。',
        unauthorized: '会话已过期，请刷新页面后重试。',
        invalid_request: '消息格式有误，请重试。',
        unknown_button: '这个选项已失效，请直接输入您的问题。',
        unavailable: '系统暂时无法接收消息，您的消息没有丢失，请稍后点击「重新发送」。',
        not_verified: '请先登录长青财富网站或 App，再关联 Telegram。',
        too_many_connections: '您所在的网络打开的客服窗口过多，请关闭一些窗口；消息仍会正常收发，只是稍有延迟。',
        generic: '抱歉，系统暂时出了点问题，请稍后再试。'
      }
    },
    en: {
      launcher: 'Chat with us',
      launcherOpen: 'Open customer service chat',
      launcherClose: 'Close customer service chat',
      unread: ' ({n} new)',
      title: 'Evergreen Wealth',
      subtitle: 'Assistant 24/7 · agents 09:00\u2060–\u206021:00 Beijing time',
      close: 'Close chat window',
      langGroup: 'Interface language',
      log: 'Conversation',
      welcome: 'Hello! I am the Evergreen Wealth assistant. I can tell you about our products, answer questions on opening an account, buying and redeeming, and find a branch. Human agents are available every day 09:00–21:00 Beijing time.',
      inputLabel: 'Type your message',
      placeholder: 'Type your question, press Enter to send',
      send: 'Send',
      you: 'You',
      bot: 'Evergreen assistant',
      agent: 'Customer service agent',
      system: 'Notice',
      typing: 'Typing…',
      disclosure: 'Risk disclosure',
      quickReplies: 'Quick replies',
      sending: 'Sending…',
      failed: 'Not sent',
      retry: 'Send again',
      dismiss: 'Dismiss notice',
      reconnecting: 'Connection lost, reconnecting…',
      queue: 'Waiting for an agent: {ahead} ahead of you, about {minutes} min',
      footer: 'Hotline 400-820-8888 · Wealth management products are not deposits. Investing involves risk.',
      tgOffer: 'Continue on Telegram',
      tgTitle: 'Continue on Telegram',
      tgClose: 'Close link code',
      tgCodeLabel: 'Your one-time link code',
      tgValid: 'Valid for {minutes} minutes (until {until}), once only.',
      tgValidShort: 'Valid for {minutes} minutes, once only.',
      tgExpired: 'This code has expired. To link your account, choose “Continue on Telegram” below for a new one.',
      tgOpen: 'Open Telegram',
      tgHelp: 'If Telegram does not open, find @{bot} in Telegram and send:',
      tgHelpNoLink: 'Find @{bot} in Telegram and send:',
      errors: {
        rate_limited: 'You are sending messages a little too fast. Please wait a moment and try again.',
        rate_limited_s: 'You are sending messages a little too fast. Please try again in {s} seconds.',
        message_too_long: 'That message is too long. Please keep it under 2,000 characters.',
        empty_message: 'Please type a message first.',
        network: 'We cannot reach our service right now. Please check your connection and try again.',
        invalid_identity: 'Your sign-in could not be confirmed, so we will help you as a guest this time.',
        unauthorized: 'Your chat session has expired. Please reload the page and try again.',
        invalid_request: 'Something was wrong with that message. Please try again.',
        unknown_button: 'That option is no longer available. Please type your question instead.',
        unavailable: "We can't take messages for a moment. Your message is not lost: press “Send again” shortly.",
        not_verified: 'Please log in to the Evergreen Wealth website or app first to link Telegram.',
        too_many_connections: 'Too many chat windows are open on your network. Please close some; your messages still arrive, a little more slowly.',
        generic: 'Sorry, something went wrong on our side. Please try again shortly.'
      }
    }
  };

  function pageLanguage() {
    var lang = (document.documentElement.getAttribute('lang') || navigator.language || 'zh').toLowerCase();
    return lang.indexOf('zh') === 0 ? 'zh' : 'en';
  }

  // ------------------------------------------------------------------ storage (may be blocked)
  var KEY = 'evergreen-chat:' + BASE + ':';
  function storeGet(store, name) {
    try { return window[store].getItem(KEY + name); } catch (e) { return null; }
  }
  function storeSet(store, name, value) {
    try {
      if (value === null || value === undefined) window[store].removeItem(KEY + name);
      else window[store].setItem(KEY + name, value);
    } catch (e) { /* storage disabled: the widget still works for this page view */ }
  }
  function loadStoredSession() {
    try {
      var s = JSON.parse(storeGet('localStorage', 'session') || 'null');
      return s && typeof s.token === 'string' ? s : null;
    } catch (e) { return null; }
  }

  // ------------------------------------------------------------------ state
  var storedLang = storeGet('localStorage', 'language');
  var state = {
    lang: storedLang === 'zh' || storedLang === 'en' ? storedLang : pageLanguage(),
    langChosen: storedLang === 'zh' || storedLang === 'en',
    languageDirty: false,       // the customer switched language: tell the server on the next session call
    identityToken: tagToken || null,
    identityWait: null,         // promise while the page is still fetching an identity token
    session: null,              // {token, kind: 'visitor'|'verified', conversationId}
    sessionPromise: null,
    generation: 0,              // bumped when the conversation changes; stale answers are dropped
    lastId: 0,
    byId: {},                   // message id -> element
    pending: {},                // client_message_id -> {el, text, display}
    historyLoaded: false,
    connecting: null,
    ws: null,
    wsAttempt: 0,
    wsTimer: null,
    wsVerify: false,
    open: false,
    unread: 0,
    remoteTyping: false,
    remoteTypingTimer: null,
    typingOn: false,            // the service was told the customer is typing
    typingSentAt: 0,
    typingTimer: null,
    inflight: 0,
    noticeTimer: null,
    tgCode: null,               // the Telegram link code on show: {code, url, bot, minutes, expiresAt, expired}
    tgTimer: null,
    tgBusy: false
  };

  var stored = loadStoredSession();
  if (state.identityToken) {
    stored = null; // a fresh identity token always starts a fresh session call
  } else if (stored && stored.kind !== 'visitor') {
    // A verified customer's session must not outlive the signed-in page (e.g. after logout).
    storeSet('localStorage', 'session', null);
    stored = null;
  }
  if (stored) {
    state.session = stored;
    state.conversationId = stored.conversationId || null;
  }

  if (CONFIG.awaitIdentityToken && !state.identityToken) {
    state.identityWait = new Promise(function (resolve) {
      state.resolveIdentity = resolve;
      setTimeout(resolve, 8000);
    }).then(function () { state.identityWait = null; state.resolveIdentity = null; });
  }

  function t(key) { return STRINGS[state.lang][key]; }
  function errorText(err) {
    var e = STRINGS[state.lang].errors;
    var code = err && err.code;
    if (code === 'rate_limited' && err.retryAfter) return e.rate_limited_s.replace('{s}', String(err.retryAfter));
    if (code === 'unauthorized' || code === 'http_401') return e.unauthorized;
    return e[code] || e.generic;
  }

  // ------------------------------------------------------------------ DOM helpers
  function h(tag, attrs, children) {
    var el = document.createElement(tag);
    if (attrs) {
      for (var k in attrs) {
        if (!Object.prototype.hasOwnProperty.call(attrs, k) || attrs[k] === null || attrs[k] === undefined) continue;
        if (k === 'class') el.className = attrs[k];
        else if (k === 'text') el.textContent = attrs[k];
        else el.setAttribute(k, attrs[k]);
      }
    }
    (children || []).forEach(function (c) { if (c) el.appendChild(c); });
    return el;
  }
  // Elements whose text/labels follow the UI language: data-i18n (textContent),
  // data-i18n-label (aria-label), data-i18n-placeholder.
  function i18n(el, key, attr) {
    var text = STRINGS[state.lang][key];
    el.setAttribute(attr ? 'data-i18n-' + attr : 'data-i18n', key);
    if (!attr) el.textContent = text;
    else if (attr === 'label') el.setAttribute('aria-label', text);
    else el.setAttribute(attr, text);
    return el;
  }
  var SVG_NS = 'http://www.w3.org/2000/svg';
  function icon(pathD, cls) {
    var svg = document.createElementNS(SVG_NS, 'svg');
    svg.setAttribute('viewBox', '0 0 24 24');
    svg.setAttribute('aria-hidden', 'true');
    svg.setAttribute('focusable', 'false');
    svg.setAttribute('class', cls || 'egw-icon');
    var path = document.createElementNS(SVG_NS, 'path');
    path.setAttribute('d', pathD);
    svg.appendChild(path);
    return svg;
  }
  var ICON_CHAT = 'M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4H4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2zm3 6.5a1.5 1.5 0 1 0 0 .01zm5 0a1.5 1.5 0 1 0 0 .01zm5 0a1.5 1.5 0 1 0 0 .01z';
  var ICON_CLOSE = 'M6.4 5 12 10.6 17.6 5 19 6.4 13.4 12l5.6 5.6-1.4 1.4L12 13.4 6.4 19 5 17.6 10.6 12 5 6.4z';
  var ICON_SEND = 'M3 20.5 21.5 12 3 3.5V10l12 2-12 2z';
  var ICON_TELEGRAM = 'M21.4 3.6 2.9 10.8c-1.1.4-1 1.9.1 2.2l4.6 1.4 1.8 5.5c.3.8 1.3 1 1.9.4l2.6-2.6 4.8 3.6c.7.5 1.6.1 1.8-.7l3.1-15.1c.2-1.1-.8-1.9-1.8-1.5zM9.8 14.3l-.5 3.4-1.2-3.9 8.9-5.9z';

  // ------------------------------------------------------------------ build the UI
  var css = document.createElement('link');
  css.rel = 'stylesheet';
  css.href = CSS_URL;
  css.setAttribute('data-evergreen-chat', '');
  (document.head || document.documentElement).appendChild(css);

  var root = h('div', { class: 'egw-root', 'data-evergreen-chat': VERSION });

  var badge = h('span', { class: 'egw-badge', 'aria-hidden': 'true', hidden: '' });
  var launcherText = i18n(h('span', { class: 'egw-launcher-text' }), 'launcher');
  var launcher = h('button', {
    type: 'button', class: 'egw-launcher', 'aria-expanded': 'false', 'aria-controls': 'egw-panel', 'aria-haspopup': 'dialog'
  }, [icon(ICON_CHAT), launcherText, badge]);

  var title = i18n(h('h2', { class: 'egw-title', id: 'egw-title' }), 'title');
  var subtitle = i18n(h('p', { class: 'egw-subtitle' }), 'subtitle');
  var langZh = h('button', { type: 'button', class: 'egw-lang-btn', 'data-lang': 'zh', lang: 'zh-CN', text: '中文' });
  var langEn = h('button', { type: 'button', class: 'egw-lang-btn', 'data-lang': 'en', lang: 'en', text: 'EN' });
  var langGroup = i18n(h('div', { class: 'egw-lang', role: 'group' }, [langZh, langEn]), 'langGroup', 'label');
  var closeBtn = i18n(h('button', { type: 'button', class: 'egw-close' }, [icon(ICON_CLOSE)]), 'close', 'label');
  var header = h('header', { class: 'egw-header' }, [
    h('span', { class: 'egw-logo', 'aria-hidden': 'true', text: '长青' }),
    h('div', { class: 'egw-heading' }, [title, subtitle]),
    langGroup,
    closeBtn
  ]);

  var statusLine = i18n(h('p', { class: 'egw-conn', role: 'status', hidden: '' }), 'reconnecting');
  // The customer's place in the queue for an agent, kept current by the service's "queue" frames.
  var queueLine = h('p', { class: 'egw-queue', role: 'status', hidden: '' });
  var welcome = i18n(h('div', { class: 'egw-welcome' }), 'welcome');
  var log = i18n(h('div', {
    class: 'egw-log', role: 'log', 'aria-live': 'polite', 'aria-relevant': 'additions', tabindex: '0'
  }, [welcome]), 'log', 'label');

  var typingText = i18n(h('span', { class: 'egw-sr' }), 'typing');
  var typing = h('div', { class: 'egw-typing', role: 'status', hidden: '' }, [
    h('span', { class: 'egw-dots', 'aria-hidden': 'true' }, [h('i'), h('i'), h('i')]),
    typingText
  ]);

  var noticeText = h('span', { class: 'egw-notice-text' });
  var noticeClose = i18n(h('button', { type: 'button', class: 'egw-notice-close' }, [icon(ICON_CLOSE)]), 'dismiss', 'label');
  var notice = h('div', { class: 'egw-notice', role: 'alert', hidden: '' }, [noticeText, noticeClose]);

  var input = h('textarea', { class: 'egw-input', rows: '1', autocomplete: 'off', enterkeyhint: 'send' });
  i18n(input, 'inputLabel', 'label');
  i18n(input, 'placeholder', 'placeholder');
  var sendBtn = i18n(h('button', { type: 'submit', class: 'egw-send' }, [icon(ICON_SEND)]), 'send', 'label');
  var form = h('form', { class: 'egw-composer', novalidate: '' }, [input, sendBtn]);
  var footer = i18n(h('p', { class: 'egw-footer' }), 'footer');

  // Continuing on Telegram (a verified customer, when the service offers it): a one-time code
  // that links the customer's Telegram account to their profile (POST /api/v1/link-codes).
  var tgOfferBtn = h('button', { type: 'button', class: 'egw-tg-offer-btn', 'aria-controls': 'egw-tg' }, [
    icon(ICON_TELEGRAM), i18n(h('span'), 'tgOffer')
  ]);
  var tgOffer = h('div', { class: 'egw-tg-offer', hidden: '' }, [tgOfferBtn]);
  var tgTitle = i18n(h('h3', { class: 'egw-tg-title', id: 'egw-tg-title', tabindex: '-1' }), 'tgTitle');
  var tgClose = i18n(h('button', { type: 'button', class: 'egw-tg-close' }, [icon(ICON_CLOSE)]), 'tgClose', 'label');
  var tgCodeText = h('p', { class: 'egw-tg-code', translate: 'no' });
  var tgValid = h('p', { class: 'egw-tg-valid' });
  var tgLink = h('a', { class: 'egw-tg-link', target: '_blank', rel: 'noopener noreferrer', hidden: '' }, [
    icon(ICON_TELEGRAM), i18n(h('span'), 'tgOpen')
  ]);
  var tgHelpText = h('span');
  var tgHelpCommand = h('code', { class: 'egw-tg-command', translate: 'no' });
  var tgHelp = h('p', { class: 'egw-tg-help' }, [tgHelpText, document.createTextNode(' '), tgHelpCommand]);
  var tgCard = h('section', { id: 'egw-tg', class: 'egw-tg', 'aria-labelledby': 'egw-tg-title', hidden: '' }, [
    h('div', { class: 'egw-tg-head' }, [tgTitle, tgClose]),
    i18n(h('p', { class: 'egw-tg-label' }), 'tgCodeLabel'),
    tgCodeText, tgValid, tgLink, tgHelp
  ]);

  var panel = h('section', {
    id: 'egw-panel', class: 'egw-panel', role: 'dialog', 'aria-modal': 'false', 'aria-labelledby': 'egw-title', hidden: ''
  }, [header, statusLine, queueLine, tgCard, log, typing, notice, form, tgOffer, footer]);

  root.appendChild(launcher); // first in tab order; opening moves focus into the panel
  root.appendChild(panel);

  function applyLanguage() {
    var S = STRINGS[state.lang];
    root.setAttribute('lang', state.lang === 'zh' ? 'zh-CN' : 'en');
    root.setAttribute('data-lang', state.lang);
    var nodes = root.querySelectorAll('[data-i18n],[data-i18n-label],[data-i18n-placeholder]');
    for (var i = 0; i < nodes.length; i++) {
      var n = nodes[i];
      if (n.hasAttribute('data-i18n')) n.textContent = S[n.getAttribute('data-i18n')];
      if (n.hasAttribute('data-i18n-label')) n.setAttribute('aria-label', S[n.getAttribute('data-i18n-label')]);
      if (n.hasAttribute('data-i18n-placeholder')) n.setAttribute('placeholder', S[n.getAttribute('data-i18n-placeholder')]);
    }
    langZh.setAttribute('aria-pressed', String(state.lang === 'zh'));
    langEn.setAttribute('aria-pressed', String(state.lang === 'en'));
    updateLauncher();
    if (!notice.hidden && state.noticeErr) noticeText.textContent = errorText(state.noticeErr);
  }

  function updateLauncher() {
    var label = state.open ? t('launcherClose') : t('launcherOpen');
    if (state.unread && !state.open) label += t('unread').replace('{n}', String(state.unread));
    launcher.setAttribute('aria-label', label);
    launcher.setAttribute('aria-expanded', String(state.open));
    if (state.unread && !state.open) {
      badge.textContent = state.unread > 9 ? '9+' : String(state.unread);
      badge.hidden = false;
    } else {
      badge.hidden = true;
    }
  }

  // ------------------------------------------------------------------ HTTP
  // The HTTP helper is the one the console pages use too (shared.js, next to this file). The firm's
  // page has one tag, so the widget adds shared.js itself, at once, and every call waits for it;
  // should it not load, the call fails as a network error and the next call tries again.
  var sharedLoading = null;
  function shared() {
    if (window.EvergreenShared) return Promise.resolve(window.EvergreenShared);
    if (!sharedLoading) {
      var tag = document.createElement('script');
      sharedLoading = new Promise(function (resolve, reject) {
        tag.onload = function () { if (window.EvergreenShared) resolve(window.EvergreenShared); else reject(); };
        tag.onerror = reject;
        tag.src = SHARED_URL;
        (document.head || document.documentElement).appendChild(tag);
      }).catch(function () {
        sharedLoading = null;
        tag.remove();
        var err = new Error('network');
        err.code = 'network';
        throw err;
      });
    }
    return sharedLoading;
  }
  shared().catch(function () { /* the first call tries again */ });

  function api(method, path, body, token) {
    return shared().then(function (S) {
      return S.request(method, BASE + path, body, {
        headers: token ? { Authorization: 'Bearer ' + token } : null,
        credentials: 'omit',
        httpMessage: function (status) { return 'HTTP ' + status; },
        unreachable: 'network'
      });
    });
  }

  // ------------------------------------------------------------------ session
  function saveSession(session) {
    state.session = session;
    if (session && session.conversationId) state.conversationId = session.conversationId;
    storeSet('localStorage', 'session', session ? JSON.stringify(session) : null);
    updateTelegramOffer();
  }

  function createSession() {
    var gen = state.generation;
    var previous = state.session;
    var body = { language: state.lang };
    var kind = 'visitor';
    if (state.identityToken) {
      body.identity_token = state.identityToken;
      kind = 'verified';
    } else {
      var visitor = storeGet('localStorage', 'visitor_token');
      if (visitor) body.visitor_token = visitor;
    }
    return api('POST', '/api/v1/sessions', body).then(function (data) {
      if (gen !== state.generation) return state.session;
      if (typeof data.session_token !== 'string') {
        var bad = new Error('no session_token'); bad.code = 'invalid_response'; throw bad;
      }
      if (data.visitor_token) storeSet('localStorage', 'visitor_token', data.visitor_token);
      state.languageDirty = false;
      var session = { token: data.session_token, kind: kind, conversationId: data.conversation_id || null };
      if (kind === 'verified' && data.telegram && typeof data.telegram.bot === 'string') session.telegram = { bot: data.telegram.bot };
      if (state.conversationId && session.conversationId && state.conversationId !== session.conversationId) {
        resetConversation(false); // e.g. an expired visitor conversation replaced by a new one
      }
      saveSession(session);
      return session;
    }, function (err) {
      if (gen !== state.generation) throw err;
      if (kind === 'verified' && err.status === 401) {
        if (previous && previous.kind === 'verified') {
          // Only the language refresh failed (the signed identity is short-lived): keep talking.
          state.languageDirty = false;
          return previous;
        }
        state.identityToken = null;
        showNotice({ code: 'invalid_identity' });
        return createSession();
      }
      if (kind === 'visitor' && body.visitor_token && (err.status === 401 || err.status === 400)) {
        storeSet('localStorage', 'visitor_token', null); // stale or foreign visitor token: start afresh
        return createSession();
      }
      throw err;
    });
  }

  // The current session, starting one when needed (or when the language changed).
  function getSession(force) {
    if (state.identityWait) return state.identityWait.then(function () { return getSession(force); });
    if (state.session && !force && !state.languageDirty) return Promise.resolve(state.session);
    if (!state.sessionPromise) {
      state.sessionPromise = createSession().then(function (s) {
        state.sessionPromise = null;
        return s;
      }, function (err) {
        state.sessionPromise = null;
        throw err;
      });
    }
    return state.sessionPromise;
  }

  // Run fn(session_token); when the service says the session is no longer valid, start a new one
  // (with the stored visitor token or identity token) and try once more.
  function withSession(fn) {
    return getSession().then(function (session) {
      return fn(session.token).catch(function (err) {
        if (err.status !== 401 || err.code === 'invalid_identity') throw err;
        if (state.session && state.session.token === session.token) saveSession(null);
        return getSession(true).then(function (fresh) { return fn(fresh.token); });
      });
    });
  }

  // ------------------------------------------------------------------ messages
  function formatTime(iso) {
    var d = new Date(iso);
    if (isNaN(d.getTime())) return '';
    try {
      return d.toLocaleTimeString(state.lang === 'zh' ? 'zh-CN' : 'en-GB', { hour: '2-digit', minute: '2-digit' });
    } catch (e) {
      return '';
    }
  }

  function isNearBottom() {
    return log.scrollHeight - log.scrollTop - log.clientHeight < 80;
  }
  function scrollToBottom() {
    log.scrollTop = log.scrollHeight;
  }

  function senderKey(m) {
    if (m.direction === 'in' || m.sender === 'customer') return 'you';
    if (m.sender === 'agent') return 'agent';
    if (m.sender === 'system') return 'system';
    return 'bot';
  }

  function buildMessage(m) {
    var who = senderKey(m);
    var mine = who === 'you';
    var el = h('div', { class: 'egw-msg ' + (mine ? 'egw-msg--in' : 'egw-msg--out') + ' egw-msg--' + who });
    var meta = h('div', { class: 'egw-meta' + (mine ? ' egw-sr' : '') });
    meta.appendChild(i18n(h('span', { class: 'egw-sender' }), who));
    var time = h('time', { class: 'egw-time' });
    meta.appendChild(time);
    el.appendChild(meta);
    var bubble = h('div', { class: 'egw-bubble' });
    el.appendChild(bubble);
    fillMessage(el, m);
    return el;
  }

  // Put the server's data into a message element (also turns a pending bubble into a stored one).
  function fillMessage(el, m) {
    el.setAttribute('data-id', String(m.id));
    if (m.client_message_id) el.setAttribute('data-client-id', m.client_message_id);
    el.classList.remove('egw-msg--pending', 'egw-msg--failed');
    var status = el.querySelector('.egw-status');
    if (status) status.remove();
    var time = el.querySelector('.egw-time');
    if (time && m.created_at) {
      time.setAttribute('datetime', m.created_at);
      time.textContent = formatTime(m.created_at);
    }
    var bubble = el.querySelector('.egw-bubble');
    bubble.textContent = typeof m.text === 'string' ? m.text : '';

    if (m.disclosure && !el.querySelector('.egw-disclosure')) {
      var label = i18n(h('strong', { class: 'egw-disclosure-label' }), 'disclosure');
      label.textContent = t('disclosure');
      var body = h('span', { class: 'egw-disclosure-text' });
      body.textContent = m.disclosure;
      el.appendChild(h('p', { class: 'egw-disclosure', role: 'note' }, [label, body]));
    }

    if (Array.isArray(m.buttons) && m.buttons.length && !el.querySelector('.egw-replies')) {
      var group = i18n(h('div', { class: 'egw-replies', role: 'group' }), 'quickReplies', 'label');
      group.setAttribute('aria-label', t('quickReplies'));
      m.buttons.forEach(function (b, index) {
        if (!b || typeof b.title !== 'string') return;
        var btn = h('button', { type: 'button', class: 'egw-reply' });
        btn.textContent = b.title;
        btn.addEventListener('click', function () {
          // The service looks the button up in this message and sends the assistant its payload;
          // nothing is executed or opened here.
          disableReplies(group);
          sendButton(m.id, index, b.title);
          input.focus(); // the buttons go away: keep keyboard users in the conversation
        });
        group.appendChild(btn);
      });
      if (group.childNodes.length) el.appendChild(group);
    }
  }

  function disableReplies(group) {
    var buttons = group.querySelectorAll('button');
    for (var i = 0; i < buttons.length; i++) buttons[i].disabled = true;
  }

  // Quick replies only make sense until the customer says something after them.
  function retireReplies(beforeId) {
    var groups = log.querySelectorAll('.egw-replies');
    for (var i = 0; i < groups.length; i++) {
      var owner = groups[i].parentNode;
      var id = owner.getAttribute('data-id');
      if (beforeId === null || (id !== null && Number(id) < beforeId)) groups[i].hidden = true;
    }
  }

  // Insert in id order; pending (unconfirmed) bubbles stay at the end.
  function insertOrdered(el, id) {
    var node = log.lastChild;
    while (node && node !== welcome) {
      var other = node.getAttribute && node.getAttribute('data-id');
      if (other !== null && other !== undefined && Number(other) <= id) break;
      node = node.previousSibling;
    }
    log.insertBefore(el, node ? node.nextSibling : log.firstChild);
  }

  function addMessage(m, live) {
    if (!m || m.id === undefined || m.id === null) return;
    var key = String(m.id);
    if (state.byId[key]) return; // already shown (WebSocket echo, HTTP answer, or history)
    var stick = isNearBottom() || m.direction === 'in';
    var id = Number(m.id);
    var el;
    var pending = m.client_message_id && state.pending[m.client_message_id];
    if (pending) {
      el = pending.el;
      delete state.pending[m.client_message_id];
      fillMessage(el, m);
      el.remove();
    } else {
      el = buildMessage(m);
    }
    state.byId[key] = el;
    if (!isNaN(id) && id > state.lastId) state.lastId = id;
    insertOrdered(el, isNaN(id) ? Infinity : id);
    if (m.direction === 'in') retireReplies(id);
    if (m.direction === 'out') setRemoteTyping(false);
    if (m.direction === 'out' && live) {
      if (!state.open) {
        state.unread += 1;
        updateLauncher();
      }
    }
    if (stick) scrollToBottom();
  }

  // hard: another customer/identity — drop everything, including unsent messages, and ignore
  // answers still on their way. Soft: the service replaced an expired conversation — keep the
  // customer's unsent messages, which go to the new one.
  function resetConversation(hard) {
    if (hard) {
      state.generation += 1;
      state.pending = {};
      state.connecting = null;
      state.conversationId = null;
    }
    state.byId = {};
    state.lastId = 0;
    state.historyLoaded = false;
    state.unread = 0;
    stopSocket();
    var node = log.lastChild;
    while (node && node !== welcome) {
      var prev = node.previousSibling;
      var clientId = node.getAttribute('data-client-id');
      if (hard || !(clientId && state.pending[clientId])) log.removeChild(node);
      node = prev;
    }
    setRemoteTyping(false);
    updateLauncher();
    if (hard) hideTelegramCode(false);
  }

  function fetchMessages() {
    var gen = state.generation;
    return withSession(function (token) {
      var after = state.lastId;
      return api('GET', '/api/v1/messages' + (after ? '?after=' + encodeURIComponent(after) : ''), undefined, token);
    }).then(function (data) {
      if (gen !== state.generation) return;
      var live = state.historyLoaded;
      log.setAttribute('aria-busy', 'true');
      (data.messages || []).forEach(function (m) { addMessage(m, live); });
      log.setAttribute('aria-busy', 'false');
      state.historyLoaded = true;
    });
  }

  // ------------------------------------------------------------------ WebSocket
  function stopSocket() {
    stopTyping();
    clearTimeout(state.wsTimer);
    state.wsTimer = null;
    if (state.ws) {
      var ws = state.ws;
      state.ws = null;
      try { ws.close(1000); } catch (e) { /* already closed */ }
    }
  }

  function connectSocket() {
    if (!('WebSocket' in window) || !state.session) return;
    if (state.ws && (state.ws.readyState === 0 || state.ws.readyState === 1)) return;
    clearTimeout(state.wsTimer);
    state.wsTimer = null;
    var gen = state.generation;
    var ws;
    try {
      ws = new WebSocket(WS_BASE + '/api/v1/ws?token=' + encodeURIComponent(state.session.token));
    } catch (e) {
      scheduleReconnect();
      return;
    }
    state.ws = ws;
    ws.onopen = function () {
      if (state.ws !== ws) return;
      state.wsAttempt = 0;
      statusLine.hidden = true;
      // Anything stored while we were away (or between the history load and now).
      fetchMessages().catch(function () { /* the next reconnect tries again */ });
      retryFailed('network');
    };
    ws.onmessage = function (event) {
      if (state.ws !== ws || gen !== state.generation) return;
      var frame;
      try { frame = JSON.parse(event.data); } catch (e) { return; }
      if (!frame || typeof frame !== 'object') return;
      if (frame.type === 'message') addMessage(frame.message, true);
      else if (frame.type === 'typing') setRemoteTyping(frame.on === true);
      else if (frame.type === 'queue') showQueue(frame);
      else if (frame.type === 'error' && frame.error) {
        // An expired session closes the socket: renew it (over HTTP) before reconnecting,
        // without troubling the customer.
        if (frame.error.code === 'unauthorized') state.wsVerify = true;
        else showNotice(frame.error);
      }
    };
    ws.onclose = function (event) {
      if (state.ws !== ws) return; // closed on purpose
      state.ws = null;
      state.typingOn = false;
      setRemoteTyping(false);
      // Policy/auth closes: check (and renew) the session over HTTP before reconnecting.
      if (event.code === 1008 || event.code >= 4000) state.wsVerify = true;
      scheduleReconnect();
    };
    ws.onerror = function () { /* onclose follows */ };
  }

  function scheduleReconnect() {
    var attempt = state.wsAttempt++;
    if (attempt >= 1) statusLine.hidden = false;
    var delay = Math.min(30000, 1000 * Math.pow(2, attempt)) * (0.8 + Math.random() * 0.4);
    clearTimeout(state.wsTimer);
    state.wsTimer = setTimeout(function () {
      state.wsTimer = null;
      if (!state.session || !state.historyLoaded) {
        connect(); // never got as far as a session and the history: start over
        return;
      }
      // Every few failures (or after an auth close) go through HTTP: it renews an expired
      // session and still delivers messages if WebSockets are blocked on this network.
      if (state.wsVerify || attempt % 3 === 2) {
        state.wsVerify = false;
        fetchMessages().then(connectSocket, connectSocket);
      } else {
        connectSocket();
      }
    }, delay);
  }

  // ------------------------------------------------------------------ queue for an agent
  function showQueue(frame) {
    state.queue = typeof frame.position === 'number' ? frame : null;
    queueLine.hidden = !state.queue;
    if (state.queue) {
      // The service words the wait itself (no estimate while no agent is online).
      queueLine.textContent = frame.text ||
        t('queue').replace('{ahead}', String(frame.ahead)).replace('{minutes}', String(frame.estimated_wait_minutes));
    }
  }

  // ------------------------------------------------------------------ typing indicator
  function setRemoteTyping(on) {
    state.remoteTyping = on;
    clearTimeout(state.remoteTypingTimer);
    if (on) state.remoteTypingTimer = setTimeout(function () { setRemoteTyping(false); }, 30000);
    updateTyping();
  }
  function updateTyping() {
    var show = state.remoteTyping || state.inflight > 0;
    if (show === !typing.hidden) return;
    var stick = isNearBottom();
    typing.hidden = !show;
    if (stick) scrollToBottom();
  }

  // The customer's own typing, for the agent who has the conversation (the service passes it on
  // only then, and stores nothing). Over the WebSocket, only while it is open; a courtesy, so a
  // frame that cannot go is simply not sent and the customer never hears of it.
  function sendTyping(on) {
    var ws = state.ws;
    if (!ws || ws.readyState !== 1) return false;
    try {
      ws.send(JSON.stringify({ type: 'typing', on: on }));
      return true;
    } catch (e) { return false; }
  }
  function typed() {
    clearTimeout(state.typingTimer);
    if (!input.value.trim()) {
      stopTyping();
      return;
    }
    var now = Date.now();
    if ((!state.typingOn || now - state.typingSentAt > TYPING_REFRESH_MS) && sendTyping(true)) {
      state.typingOn = true;
      state.typingSentAt = now;
    }
    state.typingTimer = setTimeout(stopTyping, TYPING_IDLE_MS);
  }
  function stopTyping() {
    clearTimeout(state.typingTimer);
    state.typingTimer = null;
    if (state.typingOn) sendTyping(false);
    state.typingOn = false;
  }

  // ------------------------------------------------------------------ continue on Telegram
  // The bot's name when the service offers Telegram linking to this (verified) session.
  function telegramBot() {
    var s = state.session;
    var bot = s && s.kind === 'verified' && s.telegram && s.telegram.bot;
    return typeof bot === 'string' && /^[A-Za-z0-9_]{3,64}$/.test(bot) ? bot : null;
  }
  function updateTelegramOffer() {
    var offered = !!telegramBot();
    tgOffer.hidden = !offered;
    if (!offered && state.session) hideTelegramCode(false); // e.g. now a visitor
  }

  function requestLinkCode() {
    if (state.tgBusy || !telegramBot()) return;
    if (state.tgCode && !state.tgCode.expired && !tgCard.hidden) {
      tgTitle.focus(); // the code on show is still good
      return;
    }
    state.tgBusy = true;
    tgOfferBtn.setAttribute('aria-busy', 'true');
    var gen = state.generation;
    var bot = telegramBot();
    withSession(function (token) {
      return api('POST', '/api/v1/link-codes', undefined, token);
    }).then(function (data) {
      if (gen !== state.generation) return;
      if (!data || typeof data.code !== 'string' || !data.code) {
        var bad = new Error('no code'); bad.code = 'invalid_response'; throw bad;
      }
      if (state.noticeErr) clearNotice();
      showTelegramCode(data, telegramBot() || bot);
    }).catch(function (err) {
      if (gen !== state.generation) return;
      showNotice(err);
    }).then(function () {
      state.tgBusy = false;
      tgOfferBtn.removeAttribute('aria-busy');
    });
  }

  function showTelegramCode(data, bot) {
    var lifetime = LINK_CODE_MINUTES * 60000;
    var left = Date.parse(data.expires_at) - Date.now();
    // Just issued: if this device's clock disagrees with the service's, trust the known lifetime.
    if (!(left > 0 && left <= lifetime)) left = lifetime;
    var url = typeof data.telegram_url === 'string' && data.telegram_url.indexOf('https://t.me/') === 0 ? data.telegram_url : null;
    state.tgCode = {
      code: data.code, url: url, bot: bot, expired: false,
      minutes: Math.max(1, Math.round(left / 60000)),
      expiresAt: typeof data.expires_at === 'string' ? data.expires_at : ''
    };
    clearTimeout(state.tgTimer);
    state.tgTimer = setTimeout(function () {
      if (!state.tgCode) return;
      state.tgCode.expired = true;
      renderTelegramCode();
    }, left);
    renderTelegramCode();
    tgCard.hidden = false;
    tgTitle.focus();
  }

  function renderTelegramCode() {
    var c = state.tgCode;
    if (!c) return;
    tgCodeText.textContent = c.code;
    tgCodeText.classList.toggle('egw-tg-code--expired', c.expired);
    var until = c.expiresAt ? formatTime(c.expiresAt) : '';
    if (c.expired) tgValid.textContent = t('tgExpired');
    else tgValid.textContent = t(until ? 'tgValid' : 'tgValidShort').replace('{minutes}', String(c.minutes)).replace('{until}', until);
    if (c.url && !c.expired) tgLink.setAttribute('href', c.url);
    else tgLink.removeAttribute('href');
    tgLink.hidden = !c.url || c.expired;
    tgHelp.hidden = c.expired || !c.bot;
    tgHelpText.textContent = t(c.url ? 'tgHelp' : 'tgHelpNoLink').replace('{bot}', c.bot || '');
    tgHelpCommand.textContent = '/link ' + c.code;
  }

  function hideTelegramCode(returnFocus) {
    clearTimeout(state.tgTimer);
    state.tgTimer = null;
    state.tgCode = null;
    if (tgCard.hidden) return;
    tgCard.hidden = true;
    if (returnFocus) {
      if (!tgOffer.hidden) tgOfferBtn.focus(); else input.focus();
    }
  }

  // ------------------------------------------------------------------ notices
  function showNotice(err) {
    state.noticeErr = err;
    noticeText.textContent = errorText(err);
    notice.hidden = false;
    clearTimeout(state.noticeTimer);
    if (err && err.code === 'rate_limited') {
      state.noticeTimer = setTimeout(clearNotice, Math.max(5, err.retryAfter || 10) * 1000);
    }
  }
  function clearNotice() {
    state.noticeErr = null;
    notice.hidden = true;
    clearTimeout(state.noticeTimer);
  }

  // ------------------------------------------------------------------ sending
  function uuid() {
    if (window.crypto && typeof window.crypto.randomUUID === 'function') return window.crypto.randomUUID();
    var b = new Uint8Array(16);
    window.crypto.getRandomValues(b); // randomUUID needs a secure context; this does not
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    var hex = Array.prototype.map.call(b, function (x) { return (x + 0x100).toString(16).slice(1); }).join('');
    return hex.slice(0, 8) + '-' + hex.slice(8, 12) + '-' + hex.slice(12, 16) + '-' + hex.slice(16, 20) + '-' + hex.slice(20);
  }

  function buildPending(display, clientId) {
    var el = buildMessage({ direction: 'in', sender: 'customer', text: display });
    el.removeAttribute('data-id');
    el.setAttribute('data-client-id', clientId);
    return el;
  }

  function setPendingStatus(entry, failed) {
    var el = entry.el;
    el.classList.toggle('egw-msg--pending', !failed);
    el.classList.toggle('egw-msg--failed', !!failed);
    var status = el.querySelector('.egw-status');
    if (status) status.remove();
    status = h('div', { class: 'egw-status' });
    if (failed) {
      status.appendChild(i18n(h('span', { text: t('failed') }), 'failed'));
      var retry = i18n(h('button', { type: 'button', class: 'egw-retry', text: t('retry') }), 'retry');
      retry.addEventListener('click', function () { postPending(entry.clientId); });
      status.appendChild(retry);
    } else {
      status.appendChild(i18n(h('span', { text: t('sending') }), 'sending'));
    }
    el.appendChild(status);
  }

  function postPending(clientId) {
    var entry = state.pending[clientId];
    if (!entry || entry.busy) return;
    entry.busy = true;
    entry.failure = null;
    setPendingStatus(entry, false);
    state.inflight += 1;
    updateTyping();
    var gen = state.generation;
    var ready = state.connecting || Promise.resolve();
    ready.catch(function () {}).then(function () {
      return withSession(function (token) {
        var body = entry.button ? { button: entry.button, client_message_id: clientId }
                                : { text: entry.text, client_message_id: clientId };
        return api('POST', '/api/v1/messages', body, token);
      });
    }).then(function (data) {
      if (gen !== state.generation) return;
      if (state.noticeErr) clearNotice();
      addMessage(data.message, false);
      (data.replies || []).forEach(function (m) { addMessage(m, false); });
      if (!state.ws) connectSocket();
    }, function (err) {
      if (gen !== state.generation) return;
      if (!state.pending[clientId]) return; // the WebSocket delivered it after all
      if (err.code === 'message_too_long' || err.code === 'empty_message' || err.code === 'invalid_request'
          || err.code === 'unknown_button') {
        // Resending the same cannot help: a typed text goes back to the customer to edit.
        delete state.pending[clientId];
        entry.el.remove();
        if (!input.value && !entry.button) input.value = entry.text;
        autoGrow();
      } else {
        entry.failure = err.code;
        setPendingStatus(entry, true);
      }
      showNotice(err);
    }).then(function () {
      entry.busy = false;
      state.inflight -= 1;
      updateTyping();
    });
  }

  function retryFailed(code) {
    Object.keys(state.pending).forEach(function (id) {
      var entry = state.pending[id];
      if (!entry.busy && entry.failure === code) postPending(id);
    });
  }

  function sendText(text) {
    var clean = String(text).trim();
    if (!clean) {
      showNotice({ code: 'empty_message' });
      return false;
    }
    if (Array.from(clean).length > MAX_CHARS) {
      showNotice({ code: 'message_too_long' });
      return false;
    }
    send({ text: clean });
    return true;
  }

  // A tapped quick reply: the message and index of the button, shown as its title.
  function sendButton(messageId, index, title) {
    send({ text: title, button: { message_id: messageId, index: index } });
  }

  function send(entry) {
    var clientId = uuid();
    entry.clientId = clientId;
    entry.el = buildPending(entry.text, clientId);
    state.pending[clientId] = entry;
    retireReplies(null);
    log.appendChild(entry.el);
    scrollToBottom();
    postPending(clientId);
  }

  // ------------------------------------------------------------------ open / close
  function connect() {
    if (state.connecting) return state.connecting;
    var gen = state.generation;
    var attempt = getSession().then(function () {
      if (gen !== state.generation) return;
      return fetchMessages();
    }).then(function () {
      if (gen !== state.generation) return;
      if (state.noticeErr && state.noticeErr.code === 'network') clearNotice();
      connectSocket();
    }).catch(function (err) {
      if (gen !== state.generation) return;
      showNotice(err);
      if (err.code === 'network') scheduleReconnect();
    }).then(function () {
      if (state.connecting === attempt) state.connecting = null;
    });
    state.connecting = attempt;
    return attempt;
  }

  function openPanel(restoring) {
    if (state.open) return;
    state.open = true;
    state.unread = 0;
    panel.hidden = false;
    root.classList.toggle('egw-restored', restoring === true); // no pop-in animation on reload
    root.classList.add('egw-is-open');
    storeSet('sessionStorage', 'open', '1');
    updateLauncher();
    scrollToBottom();
    if (restoring !== true) input.focus();
    connect();
  }

  function closePanel(returnFocus) {
    if (!state.open) return;
    state.open = false;
    stopTyping();
    panel.hidden = true;
    root.classList.remove('egw-is-open');
    storeSet('sessionStorage', 'open', null);
    updateLauncher();
    if (returnFocus !== false) launcher.focus();
  }

  function setLanguage(lang, chosen) {
    if (lang !== 'zh' && lang !== 'en') return;
    if (chosen) {
      state.langChosen = true;
      storeSet('localStorage', 'language', lang);
    }
    if (lang === state.lang) return;
    state.lang = lang;
    if (chosen && state.session) state.languageDirty = true; // sent with the next session call
    applyLanguage();
    if (state.queue) showQueue(state.queue);
    if (state.tgCode) renderTelegramCode();
  }

  function setIdentityToken(token) {
    token = token || null;
    var waiting = !!state.resolveIdentity;
    if (waiting) state.resolveIdentity();
    if (token === state.identityToken) return;
    state.identityToken = token;
    if (token || (state.session && state.session.kind === 'verified')) {
      resetConversation(true);
      saveSession(null);
      if (token || state.open) connect();
    }
  }

  // ------------------------------------------------------------------ events
  launcher.addEventListener('click', function () {
    if (state.open) closePanel(); else openPanel();
  });
  closeBtn.addEventListener('click', function () { closePanel(); });
  noticeClose.addEventListener('click', function () { clearNotice(); input.focus(); });
  langZh.addEventListener('click', function () { setLanguage('zh', true); });
  langEn.addEventListener('click', function () { setLanguage('en', true); });
  tgOfferBtn.addEventListener('click', requestLinkCode);
  tgClose.addEventListener('click', function () { hideTelegramCode(true); });

  root.addEventListener('keydown', function (event) {
    if (event.key === 'Escape' && !event.isComposing && state.open) {
      event.preventDefault();
      if (!tgCard.hidden && tgCard.contains(event.target)) hideTelegramCode(true); // the code first
      else closePanel();
    }
  });

  function autoGrow() {
    input.style.height = 'auto';
    input.style.height = Math.min(input.scrollHeight, 140) + 'px';
  }
  input.addEventListener('input', autoGrow);
  input.addEventListener('input', typed);
  input.addEventListener('blur', stopTyping);
  input.addEventListener('keydown', function (event) {
    // Enter sends, Shift+Enter is a new line; never send while an IME is composing (pinyin).
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
      event.preventDefault();
      submit();
    }
  });
  form.addEventListener('submit', function (event) {
    event.preventDefault();
    submit();
  });
  function submit() {
    stopTyping();
    if (sendText(input.value)) {
      input.value = '';
      autoGrow();
    }
    input.focus();
  }

  window.addEventListener('online', function () {
    if (state.session && !state.ws) connectSocket();
    retryFailed('network');
  });
  window.addEventListener('offline', function () {
    showNotice({ code: 'network' });
  });
  // Follow the page's language (e.g. a single-page site switching) unless the customer chose one.
  if ('MutationObserver' in window) {
    new MutationObserver(function () {
      if (!state.langChosen) setLanguage(pageLanguage(), false);
    }).observe(document.documentElement, { attributes: true, attributeFilter: ['lang'] });
  }
  // Another tab of the same site changed the session (e.g. started one): follow it.
  window.addEventListener('storage', function (event) {
    if (event.key !== KEY + 'session' || state.identityToken) return;
    var next = loadStoredSession();
    if (next && next.kind === 'visitor' && (!state.session || next.token !== state.session.token)) {
      if (state.session && state.session.conversationId !== next.conversationId) resetConversation();
      state.session = next;
      if (state.open || state.historyLoaded) connect();
    }
  });

  // ------------------------------------------------------------------ start
  window.EvergreenChat = {
    version: VERSION,
    open: function () { openPanel(); },
    close: function () { closePanel(false); },
    toggle: function () { if (state.open) closePanel(false); else openPanel(); },
    setLanguage: function (lang) { setLanguage(lang, true); },
    setIdentityToken: setIdentityToken
  };
  // A later <script src=".../widget.js"> tag: its token (if any) is the page's identity; a tag
  // without one only ends the wait for a token (a snippet pasted twice signs nobody out).
  Object.defineProperty(window.EvergreenChat, '_handOver', {
    value: function (token) {
      if (token) setIdentityToken(token);
      else if (state.resolveIdentity) state.resolveIdentity();
    }
  });

  function mount() {
    document.body.appendChild(root);
    applyLanguage();
    if (storeGet('sessionStorage', 'open') === '1') {
      openPanel(true); // the panel was open before this reload: show the conversation again
    } else if (!state.identityWait && (state.identityToken || state.session)) {
      // Signed-in customer (fresh, short-lived identity token) or returning visitor:
      // connect now so an agent's reply shows as unread on the launcher.
      connect();
    }
  }
  if (document.body) mount();
  else document.addEventListener('DOMContentLoaded', mount);
})();
