/*!
 * Evergreen Wealth 长青财富 — agent console.
 *
 * Plain JavaScript, no build step; served by bot/console/pages.py under a
 * Content-Security-Policy that allows only this origin's script and styles. console.html loads
 * shared.js (the HTTP helper the front ends share) and i18n.js (the staff member's language:
 * every visible text comes from its catalogue, docs/console.md "Languages") before it. It speaks the
 * console API (docs/console.md): login and session (/console/api/login, /logout, /me), the
 * queue, conversations, claim, replies, typing, notes, transfer and resolve, and the WebSocket
 * /console/ws that says what changed.
 *
 * Safety rules kept throughout:
 *   - everything that comes from the service (customer text above all) is put on the page with
 *     textContent or as attribute values, never as markup (no innerHTML anywhere);
 *   - the CSRF token from login / me lives only in memory and goes with every POST as
 *     X-CSRF-Token; the session itself is an HttpOnly cookie that scripts cannot read;
 *   - a 401 anywhere means the session has ended: back to the login form.
 *
 * Each panel has its render function (renderQueue, renderSide, renderConversation, renderProfile,
 * renderEmail, renderCases, renderNotes, renderCanned, renderGuard…) drawing it from the state alone, so a
 * change of language redraws the page in place (relabel).
 */
(function () {
  'use strict';

  var API = '/console/api';
  var MAX_CHARS = 2000;
  var TYPING_REFRESH_MS = 8000; // re-send "typing on" at most this often while the agent types
  var TYPING_IDLE_MS = 3000;    // "typing off" after this long without a keystroke
  var CUSTOMER_TYPING_MS = 10000; // "Customer is typing…" goes after this long without a refresh

  var Shared = window.EvergreenShared; // shared.js: the HTTP helper the pages share
  var I18n = window.EvergreenI18n; // i18n.js: the catalogue of the staff member's language
  var t = I18n.t;
  var CHANNELS = {}; // kind -> {zh, en} names, from GET /console/api/channels (the installed channels)
  var CAPABILITIES = {}; // kind -> what its channel can do (live_chat, replies_by_email)

  // ------------------------------------------------------------------ state
  var state = {
    me: null,            // {id, name, role, language}
    csrf: null,          // in memory only
    ws: null,
    wsAttempt: 0,
    wsTimer: null,
    queue: null,         // last GET /queue answer
    fetchedAt: 0,        // Date.now() of that answer (waiting times tick on from there)
    queueBusy: null,
    queueDirty: false,
    knownWaiting: null,  // handoff id -> urgent, to notice new (or newly urgent) waiting conversations
    knownLive: null,     // handoff ids of live conversations this agent has
    selfClaimed: {},     // handoff ids this console claimed (no "transferred to you" for those)
    quiet: {},           // handoff ids this console put back in a queue (no "new" banner for those)
    acting: false,       // resolving or transferring the open conversation
    early: [],           // message frames for the conversation being loaded
    view: 'queue',
    current: null,       // conversation id open in the conversation view
    convo: null,         // its GET /conversations answer
    convoGen: 0,
    msgEls: {},          // message id -> element, for the open conversation
    unread: {},          // conversation id -> count of customer messages not yet seen
    typingOn: false,
    typingSentAt: 0,
    typingTimer: null,
    customerTypingTimer: null,
    bannerTimer: null,
    bannerFor: null,     // handoff ids the banner announces
    flashTimer: null,
    audio: null,
    ticker: null,
    loginMessage: null,  // [catalogue key, kind] of the message on the login form
    guard: null          // the reply the compliance guard refused (renderGuard)
  };

  // ------------------------------------------------------------------ DOM
  function $(id) { return document.getElementById(id); }
  var el = {
    boot: $('boot'),
    loginView: $('login-view'), loginForm: $('login-form'), loginId: $('login-id'), loginPassword: $('login-password'),
    loginSubmit: $('login-submit'), loginError: $('login-error'), loginInfo: $('login-info'),
    appView: $('app-view'), conn: $('conn'), connText: $('conn-text'), notifyBtn: $('notify-btn'),
    languageSelect: $('language-select'),
    userName: $('user-name'), userRole: $('user-role'), logoutBtn: $('logout-btn'),
    banner: $('banner'), bannerText: $('banner-text'), bannerView: $('banner-view'), bannerClose: $('banner-close'),
    queueLink: $('queue-link'), queueCount: $('queue-count'), liveTitle: $('live-title'), liveHint: $('live-hint'),
    liveList: $('live-list'), slaStat: $('sla-over'), slaCount: $('sla-over-count'), slaLabel: $('sla-over-label'),
    queueView: $('queue-view'), queueTitle: $('queue-title'), queueBody: $('queue-body'), agentsOnline: $('agents-online'),
    agentsOnlineLabel: $('agents-online-label'),
    convoView: $('conversation-view'), backBtn: $('back-btn'), convTitle: $('conv-title'), convBadges: $('conv-badges'),
    claimBtn: $('claim-btn'), transferBtn: $('transfer-btn'), resolveBtn: $('resolve-btn'),
    handoffReason: $('handoff-reason'), handoffSummary: $('handoff-summary'),
    messages: $('messages'), readonlyNote: $('readonly-note'), composer: $('composer'),
    cannedButtons: $('canned-buttons'), replyForm: $('reply-form'), replyInput: $('reply-input'), replySend: $('reply-send'),
    replyHint: $('reply-hint'), profile: $('profile'), complaints: $('complaints'), callbacks: $('callbacks'),
    notes: $('notes'), noteForm: $('note-form'), noteInput: $('note-input'), noteAdd: $('note-add'),
    flash: $('flash'),
    resolveDialog: $('resolve-dialog'), resolveForm: $('resolve-form'), resolveCancel: $('resolve-cancel'),
    resolveConfirm: $('resolve-confirm'), resolveError: $('resolve-error'),
    transferDialog: $('transfer-dialog'), transferForm: $('transfer-form'), transferAgent: $('transfer-agent'),
    transferCancel: $('transfer-cancel'), transferConfirm: $('transfer-confirm'), transferError: $('transfer-error')
  };

  // h('li', {class: 'x', 'data-id': 3}, [children or strings]) — strings become text nodes.
  function h(tag, attrs, children) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        var v = attrs[k];
        if (v === null || v === undefined || v === false) return;
        if (k === 'class') node.className = v;
        else if (k === 'text') node.textContent = v;
        else node.setAttribute(k, v === true ? '' : String(v));
      });
    }
    (children || []).forEach(function (c) {
      if (c === null || c === undefined || c === false) return;
      node.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
    });
    return node;
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }
  function show(node, visible) { node.hidden = !visible; }

  // "Customer is typing…" under the open conversation's messages, from the WebSocket's typing frames.
  el.customerTyping = h('p', { class: 'c-typing', id: 'customer-typing', role: 'status', hidden: true, 'data-i18n': 'convo.customer_typing' });
  el.messages.parentNode.insertBefore(el.customerTyping, el.messages.nextSibling);

  // ------------------------------------------------------------------ formatting
  function pad(n) { return (n < 10 ? '0' : '') + n; }
  function channelName(kind) {
    var names = CHANNELS[kind];
    return names ? names[I18n.language] || names.en || kind : String(kind || '—');
  }
  function formatWait(seconds) {
    var s = Math.max(0, Math.round(seconds));
    if (s < 60) return t('wait.under_minute');
    var m = Math.floor(s / 60);
    if (m < 60) return t('wait.minutes', { minutes: m });
    return t('wait.hours', { hours: Math.floor(m / 60), minutes: pad(m % 60) });
  }
  function waitedSeconds(handoff) {
    return (handoff.waiting_seconds || 0) + (Date.now() - state.fetchedAt) / 1000;
  }
  // The service level (docs/console.md "Honest waiting"): the server marks a wait over it at each
  // load and the page counts on between loads, so a row turns over-level as it crosses it. A left
  // message is no live wait: never over the level here.
  function overLevel(hf) {
    var level = state.queue && state.queue.service_level_seconds;
    if (hf.left_message || typeof level !== 'number') return false;
    return !!hf.over_service_level || waitedSeconds(hf) > level;
  }
  function levelText(level) {
    var s = Math.round(level);
    return s % 60 ? t('sla.level.seconds', { seconds: s }) : t('sla.level.minutes', { minutes: s / 60 });
  }
  function langAttr(language) { return language === 'en' ? 'en' : 'zh-CN'; }
  function badge(text, kind) { return h('span', { class: 'c-badge' + (kind ? ' c-badge--' + kind : ''), text: text }); }
  function urgentBadge() { return h('span', { class: 'c-badge c-badge--urgent', text: t('badge.urgent') }); }

  // ------------------------------------------------------------------ HTTP
  function api(method, path, body) {
    return Shared.request(method, API + path, body, {
      headers: method !== 'GET' && state.csrf ? { 'X-CSRF-Token': state.csrf } : null
    }).catch(function (err) {
      if (err.status === 401 && state.me && path !== '/login') sessionEnded();
      throw err;
    });
  }

  // Report a failed call to the agent (a 401 has already taken them to the login form).
  function failed(err) {
    if (!err || err.status === 401) return;
    flash(I18n.error(err), 'error');
  }

  // ------------------------------------------------------------------ flash messages and banner
  function flash(text, kind) {
    el.flash.textContent = text;
    el.flash.className = 'c-flash' + (kind ? ' c-flash--' + kind : '');
    el.flash.hidden = false;
    clearTimeout(state.flashTimer);
    state.flashTimer = setTimeout(function () { el.flash.hidden = true; }, kind === 'error' ? 9000 : 4500);
  }

  // forIds: the waiting handoffs announced; the banner goes once none of them waits any more.
  function showBanner(text, urgent, forIds) {
    state.bannerFor = forIds || null;
    el.bannerText.textContent = text;
    el.banner.classList.toggle('c-banner--urgent', !!urgent);
    el.banner.hidden = false;
    clearTimeout(state.bannerTimer);
    state.bannerTimer = setTimeout(hideBanner, urgent ? 60000 : 20000);
  }
  function hideBanner() {
    clearTimeout(state.bannerTimer);
    el.banner.hidden = true;
  }

  // A short beep (three for an urgent case). Browsers may block audio until the agent has
  // interacted with the page: then it stays silent, and nothing else breaks.
  function beep(urgent) {
    try {
      var Ctx = window.AudioContext || window.webkitAudioContext;
      if (!Ctx) return;
      if (!state.audio) state.audio = new Ctx();
      var ctx = state.audio;
      if (ctx.state === 'suspended' && ctx.resume) {
        var resumed = ctx.resume();
        if (resumed && resumed.catch) resumed.catch(function () {});
      }
      var starts = urgent ? [0, 0.2, 0.4] : [0, 0.18];
      starts.forEach(function (t, i) {
        var at = ctx.currentTime + t;
        var osc = ctx.createOscillator();
        var gain = ctx.createGain();
        osc.type = 'sine';
        osc.frequency.value = urgent ? 988 : (i ? 1175 : 880);
        gain.gain.setValueAtTime(0.0001, at);
        gain.gain.exponentialRampToValueAtTime(0.18, at + 0.015);
        gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.15);
        osc.connect(gain);
        gain.connect(ctx.destination);
        osc.start(at);
        osc.stop(at + 0.16);
      });
    } catch (e) { /* no audio: the banner still shows */ }
  }
  function unlockAudio() {
    // Called from a click: creating (or resuming) the context inside a user gesture allows sound later.
    try {
      var Ctx = window.AudioContext || window.webkitAudioContext;
      if (!Ctx) return;
      if (!state.audio) state.audio = new Ctx();
      if (state.audio.state === 'suspended' && state.audio.resume) {
        var p = state.audio.resume();
        if (p && p.catch) p.catch(function () {});
      }
    } catch (e) { /* ignore */ }
  }

  function canNotify() {
    return 'Notification' in window && typeof window.Notification === 'function';
  }
  function desktopNotify(title, body, urgent) {
    try {
      if (!canNotify() || window.Notification.permission !== 'granted') return;
      var n = new window.Notification(title, { body: body, tag: 'evergreen-console-queue', requireInteraction: !!urgent });
      n.onclick = function () {
        try { window.focus(); } catch (e) { /* ignore */ }
        showQueueView(true);
        if (n.close) n.close();
      };
    } catch (e) { /* not allowed here: the banner is enough */ }
  }
  function updateNotifyButton() {
    el.notifyBtn.hidden = !(canNotify() && window.Notification.permission === 'default');
  }

  // ------------------------------------------------------------------ views
  function showBoot() {
    el.boot.hidden = false;
    el.loginView.hidden = true;
    el.appView.hidden = true;
  }

  function showLogin(message, kind) {
    stopSocket();
    clearInterval(state.ticker);
    closeDialogs();
    state.me = null;
    state.csrf = null;
    state.queue = null;
    state.knownWaiting = null;
    state.knownLive = null;
    state.current = null;
    state.convo = null;
    state.unread = {};
    hideBanner();
    el.boot.hidden = true;
    el.appView.hidden = true;
    el.loginView.hidden = false;
    state.loginMessage = message ? [message, kind] : null;
    renderLoginMessage();
    el.loginPassword.value = '';
    el.loginSubmit.disabled = false;
    document.title = t('page.login');
    (el.loginId.value ? el.loginPassword : el.loginId).focus();
  }

  // message: a catalogue key, or an Error of the service (put in words by I18n.error)
  function renderLoginMessage() {
    var m = state.loginMessage;
    el.loginError.hidden = true;
    el.loginInfo.hidden = true;
    if (!m) return;
    var target = m[1] === 'info' ? el.loginInfo : el.loginError;
    target.textContent = typeof m[0] === 'string' ? t(m[0]) : I18n.error(m[0]);
    target.hidden = false;
  }

  function sessionEnded() {
    showLogin('login.session_ended');
  }

  // The installed channels' names and capabilities, before anything is shown.
  function loadChannels() {
    return api('GET', '/channels').then(function (data) {
      data.channels.forEach(function (c) { CHANNELS[c.kind] = c.labels || { en: c.label }; CAPABILITIES[c.kind] = c; });
    });
  }

  function enterApp(me, csrf) {
    state.me = me;
    state.csrf = csrf;
    state.knownWaiting = null;
    state.knownLive = null;
    state.selfClaimed = {};
    state.unread = {};
    el.boot.hidden = true;
    el.loginView.hidden = true;
    el.appView.hidden = false;
    el.userName.textContent = me.name || me.id;
    el.languageSelect.value = I18n.language;
    document.getElementById('quality-link').hidden = me.role !== 'supervisor'; // quality.html
    renderTopbar();
    updateNotifyButton();
    showQueueView(true);
    refreshQueue();
    startAutomated();
    connectSocket();
    clearInterval(state.ticker);
    state.ticker = setInterval(tickWaiting, 15000);
  }

  function isSupervisor() { return !!state.me && state.me.role === 'supervisor'; }

  function renderTopbar() {
    el.userRole.textContent = t(isSupervisor() ? 'role.supervisor' : 'role.agent');
    el.liveTitle.textContent = t(isSupervisor() ? 'side.with_agents' : 'side.mine');
    el.liveHint.textContent = t(isSupervisor() ? 'side.hint_supervisor' : 'side.hint_agent');
    setConnection(el.conn.getAttribute('data-state'));
  }

  function showQueueView(focus) {
    stopTyping(false);
    showCustomerTyping(false);
    state.view = 'queue';
    state.current = null;
    state.convo = null;
    state.early = [];
    state.convoGen += 1;
    el.convoView.hidden = true;
    el.queueView.hidden = false;
    el.queueLink.setAttribute('aria-current', 'page');
    renderSide();
    updateTitle();
    if (focus) el.queueTitle.focus({ preventScroll: true });
  }

  function updateTitle() {
    var waiting = state.queue ? state.queue.waiting.length : 0;
    var where = t(state.view === 'conversation' ? 'page.conversation' : 'page.queue');
    document.title = (waiting ? '(' + waiting + ') ' : '') + where;
  }

  // ------------------------------------------------------------------ login / logout
  el.loginForm.addEventListener('submit', function (event) {
    event.preventDefault();
    unlockAudio();
    var id = el.loginId.value.trim();
    var password = el.loginPassword.value;
    el.loginInfo.hidden = true;
    if (!id || !password) {
      el.loginError.textContent = t('login.missing');
      el.loginError.hidden = false;
      (id ? el.loginPassword : el.loginId).focus();
      return;
    }
    el.loginSubmit.disabled = true;
    el.loginError.hidden = true;
    api('POST', '/login', { id: id, password: password }).then(function (data) {
      el.loginPassword.value = '';
      return start(data.staff, data.csrf_token);
    }, function (err) {
      var text = I18n.error(err);
      if (err.code === 'rate_limited') {
        var minutes = err.retryAfter ? Math.max(1, Math.ceil(err.retryAfter / 60)) : 15;
        text = t('login.rate_limited', { minutes: minutes });
      }
      el.loginError.textContent = text;
      el.loginError.hidden = false;
      el.loginPassword.value = '';
      el.loginPassword.focus();
    }).then(function () {
      el.loginSubmit.disabled = false;
    });
  });

  el.logoutBtn.addEventListener('click', function () {
    el.logoutBtn.disabled = true;
    stopTyping(false);
    api('POST', '/logout').then(function () {
      showLogin('login.logged_out', 'info');
    }, function (err) {
      if (err.status !== 401) failed(err);
    }).then(function () {
      el.logoutBtn.disabled = false;
    });
  });

  el.notifyBtn.addEventListener('click', function () {
    if (!canNotify()) return;
    try {
      var asked = window.Notification.requestPermission(updateNotifyButton);
      if (asked && asked.then) asked.then(updateNotifyButton, updateNotifyButton);
    } catch (e) { updateNotifyButton(); }
  });

  el.bannerClose.addEventListener('click', hideBanner);
  el.bannerView.addEventListener('click', function () {
    hideBanner();
    showQueueView(true);
  });
  el.queueLink.addEventListener('click', function () { showQueueView(true); });

  // The top bar's language: kept on the staff member's account, shown at once.
  el.languageSelect.addEventListener('change', function () {
    var language = el.languageSelect.value;
    el.languageSelect.disabled = true;
    I18n.use(language).then(function () {
      return api('PUT', '/me/language', { language: language });
    }).then(function () {
      if (state.me) state.me.language = language;
    }, failed).then(function () {
      el.languageSelect.disabled = false;
      el.languageSelect.value = I18n.language;
    });
  });
  el.backBtn.addEventListener('click', function () { showQueueView(true); });

  // ------------------------------------------------------------------ WebSocket
  function stopSocket() {
    clearTimeout(state.wsTimer);
    state.wsTimer = null;
    if (state.ws) {
      var ws = state.ws;
      state.ws = null;
      try { ws.close(1000); } catch (e) { /* already closed */ }
    }
    setConnection('offline');
  }

  function setConnection(status) {
    el.conn.setAttribute('data-state', status);
    el.connText.textContent = t(status === 'live' ? 'conn.live' : status === 'connecting' ? 'conn.connecting' : 'conn.reconnecting');
  }

  function connectSocket() {
    if (!state.me || !('WebSocket' in window)) return;
    if (state.ws && (state.ws.readyState === 0 || state.ws.readyState === 1)) return;
    var ws;
    try {
      ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/console/ws');
    } catch (e) {
      scheduleReconnect();
      return;
    }
    state.ws = ws;
    if (state.wsAttempt === 0) setConnection('connecting');
    ws.onopen = function () {
      if (state.ws !== ws) return;
      state.wsAttempt = 0;
      setConnection('live');
      // Whatever changed while we were not listening.
      refreshQueue();
      if (state.current) reloadConversation();
    };
    ws.onmessage = function (event) {
      if (state.ws !== ws) return;
      var frame;
      try { frame = JSON.parse(event.data); } catch (e) { return; }
      if (!frame || typeof frame !== 'object') return;
      var current = frame.conversation_id && frame.conversation_id === state.current && !state.acting;
      if (frame.type === 'queue_changed') {
        refreshQueue();
        if (current) reloadConversation();
      } else if (frame.type === 'message') {
        onMessageFrame(frame);
      } else if (frame.type === 'typing') {
        if (frame.conversation_id === state.current) showCustomerTyping(frame.on === true);
      } else if (frame.type === 'note') {
        if (current) reloadConversation();
      } else if (frame.type === 'error' && frame.error) {
        if (frame.error.code === 'unauthorized') {
          state.ws = null;
          sessionEnded();
        }
      }
    };
    ws.onclose = function () {
      if (state.ws !== ws) return; // closed on purpose
      state.ws = null;
      if (state.me) scheduleReconnect();
    };
    ws.onerror = function () { /* onclose follows */ };
  }

  function scheduleReconnect() {
    setConnection('reconnecting');
    var attempt = state.wsAttempt++;
    var delay = Math.min(30000, 1000 * Math.pow(2, attempt)) * (0.8 + Math.random() * 0.4);
    clearTimeout(state.wsTimer);
    state.wsTimer = setTimeout(function () {
      state.wsTimer = null;
      if (!state.me) return;
      // Through HTTP first: a session that has ended takes the agent to the login form.
      api('GET', '/me').then(connectSocket, function (err) {
        if (err.status !== 401) scheduleReconnect();
      });
    }, delay);
  }

  // ------------------------------------------------------------------ queue
  function refreshQueue() {
    if (!state.me) return Promise.resolve();
    if (state.queueBusy) {
      state.queueDirty = true;
      return state.queueBusy;
    }
    var busy = api('GET', '/queue').then(function (data) {
      if (!state.me) return;
      data.waiting = data.waiting || [];
      data.live = (isSupervisor() ? data.with_agents : data.mine) || [];
      state.queue = data;
      state.fetchedAt = Date.now();
      noticeChanges(data);
      renderQueue();
      renderSide();
      updateTitle();
    }).catch(function (err) {
      if (err.code !== 'network') failed(err);
    }).then(function () {
      state.queueBusy = null;
      if (state.queueDirty) {
        state.queueDirty = false;
        refreshQueue();
      }
    });
    state.queueBusy = busy;
    return busy;
  }

  // New (or newly urgent) waiting conversations: banner, sound and a desktop notification.
  // Conversations transferred to this agent: a banner. Nothing is announced at the first load.
  function noticeChanges(data) {
    var waiting = {};
    data.waiting.forEach(function (hf) { waiting[hf.id] = !!hf.urgent; });
    var mine = {};
    data.live.forEach(function (hf) { if (hf.agent_id === state.me.id) mine[hf.id] = true; });
    var first = state.knownWaiting === null;
    var fresh = first ? [] : data.waiting.filter(function (hf) {
      if (state.quiet[hf.id]) return false;
      return !Object.prototype.hasOwnProperty.call(state.knownWaiting, hf.id) || (hf.urgent && !state.knownWaiting[hf.id]);
    });
    data.waiting.forEach(function (hf) { delete state.quiet[hf.id]; });
    var given = first ? [] : data.live.filter(function (hf) {
      return hf.agent_id === state.me.id && !state.knownLive[hf.id] && !state.selfClaimed[hf.id];
    });
    state.knownWaiting = waiting;
    state.knownLive = mine;
    if (!el.banner.hidden && state.bannerFor && !state.bannerFor.some(function (id) { return waiting[id] !== undefined; })) {
      hideBanner(); // everyone announced has been taken care of
    }
    if (fresh.length) {
      var urgent = fresh.some(function (hf) { return hf.urgent; });
      var text;
      if (fresh.length === 1) {
        var one = fresh[0];
        text = t(one.urgent ? 'banner.urgent_one' : 'banner.new_one', {
          reason: I18n.label('reason', one.reason), tier: I18n.label('tier', one.tier),
          language: I18n.label('language', one.language)
        }) + (one.summary ? ' — “' + one.summary + '”' : '');
      } else {
        text = t(urgent ? 'banner.new_many_urgent' : 'banner.new_many', { count: fresh.length });
      }
      showBanner(text, urgent, fresh.map(function (hf) { return hf.id; }));
      beep(urgent);
      desktopNotify(t(urgent ? 'notify.urgent' : 'notify.waiting'), text, urgent);
    }
    if (given.length) {
      showBanner(given.length === 1 ? t('banner.transferred_one') : t('banner.transferred_many', { count: given.length }), false);
      beep(false);
    }
  }

  function renderQueue() {
    var q = state.queue;
    if (!q) return;
    el.queueCount.textContent = String(q.waiting.length);
    el.queueCount.classList.toggle('c-count--urgent', q.waiting.some(function (hf) { return hf.urgent; }));
    el.agentsOnline.textContent = String(q.agents_online || 0);
    el.agentsOnlineLabel.textContent = t(q.agents_online === 1 ? 'queue.agent_online' : 'queue.agents_online');
    show(el.slaStat, typeof q.service_level_seconds === 'number');
    var focusKey = document.activeElement && document.activeElement.getAttribute('data-focus-key');
    clear(el.queueBody);
    if (!q.waiting.length) {
      el.queueBody.appendChild(h('tr', { class: 'c-empty-row' }, [
        h('td', { colspan: '7', class: 'c-empty', text: t('queue.empty') })
      ]));
    }
    q.waiting.forEach(function (hf) {
      var claim = h('button', {
        type: 'button', class: 'c-btn c-btn--primary c-btn--small', 'data-focus-key': 'claim-' + hf.id,
        'aria-describedby': 'summary-' + hf.id, text: t('action.claim')
      });
      claim.addEventListener('click', function () { claimHandoff(hf, claim); });
      var reason = h('td', { class: 'c-reason' }, [
        hf.urgent ? urgentBadge() : null,
        h('span', { text: I18n.label('reason', hf.reason) }),
        hf.complaint_reference ? h('span', { class: 'c-ref', text: t('queue.complaint', { reference: hf.complaint_reference }) }) : null
      ]);
      var summary = hf.summary
        ? h('span', { class: 'c-quote', id: 'summary-' + hf.id, lang: langAttr(hf.language), text: hf.summary })
        : h('span', { class: 'c-muted', id: 'summary-' + hf.id, text: t('queue.no_summary') });
      var row = h('tr', {
        class: 'c-row' + (hf.urgent ? ' c-row--urgent' : ''), 'data-conversation-id': hf.conversation_id,
        'data-handoff-id': hf.id, 'data-urgent': hf.urgent ? 'true' : 'false'
      }, [
        h('td', { class: 'c-pos' }, [
          h('span', { class: 'c-pos-num', text: hf.position ? '#' + hf.position : '—' }),
          h('span', { class: 'c-pos-queue', text: t(hf.queue === 'private' ? 'queue.short.private' : 'queue.short.general') })
        ]),
        reason,
        h('td', {}, [badge(I18n.label('tier', hf.tier), 'tier-' + hf.tier)]),
        h('td', { text: I18n.label('language', hf.language) + ' · ' + channelName(hf.channel) }),
        h('td', { class: 'c-wait', 'data-handoff-id': hf.id }),
        h('td', { class: 'c-summary' }, [summary]),
        h('td', { class: 'c-action' }, [claim])
      ]);
      el.queueBody.appendChild(row);
    });
    tickWaiting();
    restoreFocus(el.queueBody, focusKey);
  }

  // The waiting times, which rows are over the service level, and how many (the queue's header).
  function tickWaiting() {
    var q = state.queue;
    if (!q) return;
    var byId = {};
    q.waiting.forEach(function (hf) { byId[hf.id] = hf; });
    var cells = el.queueBody.querySelectorAll('.c-wait');
    for (var i = 0; i < cells.length; i++) {
      var hf = byId[cells[i].getAttribute('data-handoff-id')];
      if (hf) fillWait(cells[i], hf);
    }
    var over = q.waiting.filter(overLevel).length;
    el.slaCount.textContent = String(over);
    el.slaStat.classList.toggle('c-stat--over', over > 0);
    if (typeof q.service_level_seconds === 'number') {
      el.slaLabel.textContent = t('sla.over_count', { level: levelText(q.service_level_seconds) });
    }
  }

  function fillWait(cell, hf) {
    var over = overLevel(hf), row = cell.parentNode;
    row.classList.toggle('c-row--over', over);
    row.setAttribute('data-over-service-level', over ? 'true' : 'false');
    clear(cell);
    cell.appendChild(h('span', { class: 'c-wait-time', text: formatWait(waitedSeconds(hf)) }));
    if (over) {
      cell.appendChild(h('span', { class: 'c-sla-over', text: t('sla.over', { level: levelText(state.queue.service_level_seconds) }) }));
    }
    if (hf.left_message) {
      cell.appendChild(h('span', { class: 'c-sla-message' }, [
        badge(t('sla.left_message'), 'message'),
        h('span', { class: 'c-sla-left-at', text: t('sla.left_at', { time: I18n.dateTime(hf.left_message_at) }) })
      ]));
    }
  }

  function restoreFocus(container, key) {
    if (!key) return;
    var nodes = container.querySelectorAll('[data-focus-key]');
    for (var i = 0; i < nodes.length; i++) {
      if (nodes[i].getAttribute('data-focus-key') === key) { nodes[i].focus({ preventScroll: true }); return; }
    }
  }

  function renderSide() {
    var q = state.queue;
    var live = q ? q.live : [];
    var focusKey = document.activeElement && document.activeElement.getAttribute('data-focus-key');
    clear(el.liveList);
    if (!live.length) {
      el.liveList.appendChild(h('li', {
        class: 'c-side-empty',
        text: t(isSupervisor() ? 'side.empty_supervisor' : 'side.empty_agent')
      }));
    }
    live.forEach(function (hf) {
      var unread = state.unread[hf.conversation_id] || 0;
      var current = hf.conversation_id === state.current;
      var item = h('button', {
        type: 'button', class: 'c-side-item' + (hf.urgent ? ' c-side-item--urgent' : ''),
        'data-conversation-id': hf.conversation_id, 'data-focus-key': 'live-' + hf.conversation_id,
        'aria-current': current ? 'true' : null
      }, [
        h('span', { class: 'c-side-line' }, [
          hf.urgent ? urgentBadge() : null,
          isSupervisor() && hf.over_service_level && typeof q.service_level_seconds === 'number'
            ? badge(t('sla.waited_over', { level: levelText(q.service_level_seconds) }), 'over') : null,
          h('span', { class: 'c-side-reason', text: I18n.label('reason', hf.reason) }),
          unread ? h('span', { class: 'c-unread', text: String(unread) }) : null,
          unread ? h('span', { class: 'c-sr', text: ' ' + t(unread === 1 ? 'side.unread_one' : 'side.unread_many', { count: unread }) }) : null
        ]),
        h('span', { class: 'c-side-meta' }, [
          I18n.label('tier', hf.tier) + ' · ' + I18n.label('language', hf.language) + ' · ' + channelName(hf.channel) + ' · ' +
          (isSupervisor() ? t('side.with', { agent: hf.agent_id === state.me.id ? t('side.you') : hf.agent_id })
            : t('side.since', { time: I18n.time(hf.claimed_at) }))
        ]),
        hf.summary ? h('span', { class: 'c-side-summary', lang: langAttr(hf.language), text: hf.summary }) : null
      ]);
      item.addEventListener('click', function () { openConversation(hf.conversation_id, true); });
      el.liveList.appendChild(h('li', {}, [item]));
    });
    if (state.view === 'queue') el.queueLink.setAttribute('aria-current', 'page');
    else el.queueLink.removeAttribute('aria-current');
    restoreFocus(el.liveList, focusKey);
  }

  function claimHandoff(hf, button) {
    if (button) button.disabled = true;
    state.selfClaimed[hf.id] = true;
    api('POST', '/handoffs/' + encodeURIComponent(hf.id) + '/claim').then(function () {
      flash(t((CAPABILITIES[hf.channel] || {}).replies_by_email ? 'flash.claimed_email' : 'flash.claimed'), 'ok');
      refreshQueue();
      openConversation(hf.conversation_id, true);
    }, function (err) {
      if (button) button.disabled = false;
      if (err.status === 409) flash(I18n.error(err), 'error');
      else failed(err);
      refreshQueue();
    });
  }

  // ------------------------------------------------------------------ conversation
  function openConversation(conversationId, focusReply) {
    if (state.current !== conversationId) {
      stopTyping(false);
      showCustomerTyping(false);
    }
    state.view = 'conversation';
    state.current = conversationId;
    state.convo = null;
    state.early = [];
    state.msgEls = {};
    state.convoGen += 1;
    delete state.unread[conversationId];
    clear(el.messages);
    clear(el.profile);
    clear(el.complaints);
    clear(el.callbacks);
    clear(el.notes);
    clear(el.convBadges);
    el.convTitle.textContent = t('convo.loading');
    el.handoffReason.textContent = '';
    el.handoffSummary.textContent = '';
    el.replyInput.value = '';
    autoGrow();
    state.guard = null;
    renderGuard();
    el.queueView.hidden = true;
    el.convoView.hidden = false;
    renderSide();
    updateTitle();
    return loadConversation(focusReply);
  }

  function reloadConversation() {
    return state.current ? loadConversation(false) : Promise.resolve();
  }

  function loadConversation(focusReply) {
    var id = state.current;
    var gen = state.convoGen;
    return api('GET', '/conversations/' + encodeURIComponent(id)).then(function (data) {
      if (state.current !== id || state.convoGen !== gen) return;
      var first = !state.convo;
      state.convo = data;
      renderConversation(data);
      state.early.splice(0).forEach(addMessage); // frames that came while this was loading
      if (first) {
        el.messages.scrollTop = el.messages.scrollHeight;
        if (focusReply && canReply()) el.replyInput.focus();
        else el.convTitle.focus({ preventScroll: true });
      }
    }, function (err) {
      if (state.current !== id || state.convoGen !== gen || state.acting) return;
      if (err.status === 404) {
        flash(t('flash.gone'), 'error');
        showQueueView(true);
        refreshQueue();
      } else {
        failed(err);
      }
    });
  }

  function canReply() {
    var hf = state.convo && state.convo.handoff;
    return !!(hf && state.me && hf.state === 'with_agent' && hf.agent_id === state.me.id);
  }

  function renderConversation(data) {
    var hf = data.handoff;
    var customer = data.customer || {};
    var mine = canReply();
    var mail = data.channel_details;
    var who = customer.verified ? (customer.name || customer.id) : mail ? (mail.name || mail.address || t('convo.email_sender')) : t('convo.visitor');
    el.convTitle.textContent = who + ' · ' + I18n.label('language', hf.language) + ' · #' + hf.id;

    clear(el.convBadges);
    if (hf.urgent) el.convBadges.appendChild(urgentBadge());
    el.convBadges.appendChild(badge(I18n.label('tier', hf.tier), 'tier-' + hf.tier));
    el.convBadges.appendChild(badge(t(customer.verified ? 'badge.verified' : 'badge.not_verified'), customer.verified ? 'ok' : 'warn'));
    el.convBadges.appendChild(badge(I18n.label('queue', hf.queue)));
    el.convBadges.appendChild(badge(channelName(data.channel)));
    el.convBadges.appendChild(badge(hf.state === 'waiting' ? t('badge.waiting') :
      mine ? t('badge.with_you') : t('badge.with', { agent: hf.agent_id || t('badge.an_agent') }), hf.state === 'waiting' ? 'warn' : 'state'));

    el.handoffReason.textContent = I18n.label('reason', hf.reason) +
      (hf.complaint_reference ? ' · ' + t('convo.complaint', { reference: hf.complaint_reference }) : '') +
      ' · ' + t('convo.requested', { time: I18n.dateTime(hf.requested_at) });
    el.handoffSummary.textContent = hf.summary || '—';
    el.handoffSummary.setAttribute('lang', langAttr(hf.language));

    // Messages: add what is new (a reload after a note or a reconnect keeps what is shown).
    (data.messages || []).forEach(addMessage);

    // Who may do what.
    el.claimBtn.hidden = hf.state !== 'waiting';
    el.claimBtn.disabled = false;
    el.transferBtn.hidden = !mine;
    el.resolveBtn.hidden = !mine;
    setComposer(mine);
    if (!mine) {
      el.readonlyNote.textContent = hf.state === 'waiting'
        ? t('convo.readonly_waiting') : t('convo.readonly_with', { agent: hf.agent_id || t('convo.another_agent') });
    }
    el.readonlyNote.hidden = mine;
    renderCanned(data.canned_replies || [], hf.language);

    renderProfile(customer);
    if (mail) renderEmail(mail);
    el.replyHint.textContent = t(mail ? 'reply.hint_email' : 'reply.hint_chat');
    renderCases(data.complaints || [], data.callbacks || []);
    renderNotes(data.notes || []);
  }

  function setComposer(enabled) {
    el.composer.hidden = !enabled;
    el.replyInput.disabled = !enabled;
    el.replySend.disabled = !enabled;
  }

  function renderProfile(c) {
    clear(el.profile);
    function row(term, value, extra) {
      var empty = value === null || value === undefined || value === '';
      el.profile.appendChild(h('div', { class: 'c-dl-row' }, [
        h('dt', { text: term }),
        h('dd', {}, empty ? [extra || h('span', { class: 'c-muted', text: '—' })] : [String(value), extra ? ' ' : null, extra])
      ]));
    }
    row(t('profile.identity'), null, badge(t(c.verified ? 'profile.verified' : 'profile.anonymous'), c.verified ? 'ok' : 'warn'));
    if (c.verified) {
      row(t('profile.name'), c.name);
      row(t('profile.customer_id'), c.id);
    }
    row(t('profile.tier'), I18n.label('tier', c.tier || 'standard'));
    if (c.verified) {
      var expired = false;
      if (c.risk_expires) {
        var today = new Date();
        var iso = today.getFullYear() + '-' + pad(today.getMonth() + 1) + '-' + pad(today.getDate());
        expired = c.risk_expires < iso;
      }
      row(t('profile.risk_level'), c.risk_level || null, c.risk_level ? null : badge(t('profile.not_assessed'), 'warn'));
      row(t('profile.risk_expires'), c.risk_expires || null, expired ? badge(t('profile.expired'), 'urgent') : null);
      row(t('profile.language'), c.language ? I18n.label('language', c.language) : null);
    } else {
      row(t('profile.risk_level'), null, badge(t('profile.risk_unknown'), 'warn'));
    }
  }

  // An email conversation's ticket: where replies go, the subject, and the attachments, which
  // are only ever downloaded (the server sends them as octet-stream, never to be opened here).
  function renderEmail(mail) {
    function row(term, children) {
      el.profile.appendChild(h('div', { class: 'c-dl-row' }, [h('dt', { text: term }), h('dd', {}, children)]));
    }
    row(t('email.address'), [mail.address || '—']);
    row(t('email.ticket'), [mail.reference + (mail.reference !== mail.inquiry_reference ? ' (' + mail.inquiry_reference + ')' : '')]);
    row(t('email.subject'), [mail.subject || '—']);
    row(t('email.acknowledged'), mail.acknowledged ? [t('email.yes')] : [badge(t('email.not_sent'), 'warn'), ' ', mail.no_acknowledgement || '']);
    row(t('email.attachments'), mail.attachments.length ? [h('ul', { class: 'c-plain' }, mail.attachments.map(function (a) {
      return h('li', {}, [h('a', { href: a.url, download: a.filename, rel: 'noopener', text: a.filename }),
        h('span', { class: 'c-muted', text: ' · ' + t('email.size_kb', { size: Math.max(1, Math.round(a.size / 1024)) }) })]);
    }))] : ['—']);
  }

  function renderCases(complaints, callbacks) {
    clear(el.complaints);
    clear(el.callbacks);
    if (!complaints.length) el.complaints.appendChild(h('li', { class: 'c-muted', text: t('cases.none') }));
    complaints.forEach(function (c) {
      el.complaints.appendChild(h('li', { class: 'c-case' }, [
        h('span', { class: 'c-case-head' }, [
          c.urgent ? urgentBadge() : null,
          h('strong', { text: c.reference }),
          h('span', { class: 'c-muted', text: ' · ' + (c.state || '') })
        ]),
        h('span', { class: 'c-case-meta', text: (c.category ? I18n.label('category', c.category) : t('cases.uncategorised')) +
          (c.resolution_due ? ' · ' + t('cases.resolution_due', { time: I18n.dateTime(c.resolution_due) }) : '') })
      ]));
    });
    if (!callbacks.length) el.callbacks.appendChild(h('li', { class: 'c-muted', text: t('cases.no_callbacks') }));
    callbacks.forEach(function (c) {
      el.callbacks.appendChild(h('li', { class: 'c-case' }, [
        h('strong', { text: c.reference }),
        h('span', { class: 'c-case-meta', text: c.window_start ? t('cases.callback_from', { time: I18n.dateTime(c.window_start) }) : '' })
      ]));
    });
  }

  function renderNotes(notes) {
    clear(el.notes);
    if (!notes.length) el.notes.appendChild(h('li', { class: 'c-muted', text: t('notes.none') }));
    notes.forEach(function (n) {
      var by = String(n.by || '').replace(/^staff:/, '');
      el.notes.appendChild(h('li', { class: 'c-note' }, [
        h('span', { class: 'c-note-meta', text: (by === (state.me && state.me.id) ? t('notes.you') : by) + ' · ' + I18n.dateTime(n.at) }),
        h('p', { class: 'c-note-text', text: n.text || '' })
      ]));
    });
  }

  function senderOf(m) {
    if (m.direction === 'in' || m.sender === 'customer') return 'customer';
    if (m.sender === 'agent' || m.sender === 'system') return m.sender;
    return 'bot';
  }

  function messageElement(m) {
    var who = senderOf(m);
    var customer = state.convo && state.convo.customer;
    var name = who === 'customer' && customer && customer.verified && customer.name ? customer.name : t('sender.' + who);
    var item = h('div', { class: 'c-msg c-msg--' + who, 'data-id': m.id, 'data-sender': who }, [
      h('div', { class: 'c-msg-meta' }, [
        h('span', { class: 'c-msg-who', text: name }),
        h('time', { class: 'c-msg-time', datetime: m.created_at || null, text: I18n.dateTime(m.created_at) })
      ]),
      h('div', { class: 'c-msg-text', text: typeof m.text === 'string' ? m.text : '' })
    ]);
    if (m.disclosure) {
      item.appendChild(h('div', { class: 'c-msg-disclosure' }, [
        h('span', { class: 'c-msg-disclosure-label', text: t('message.disclosure') + ' ' }), String(m.disclosure)
      ]));
    }
    if (Array.isArray(m.buttons) && m.buttons.length) {
      item.appendChild(h('div', { class: 'c-msg-buttons' }, [h('span', { class: 'c-muted', text: t('message.offered') + ' ' })].concat(
        m.buttons.filter(function (b) { return b && typeof b.title === 'string'; })
          .map(function (b) { return h('span', { class: 'c-chip', text: b.title }); })
      )));
    }
    return item;
  }

  function addMessage(m) {
    if (!m || m.id === undefined || m.id === null) return;
    var key = String(m.id);
    if (state.msgEls[key]) return;
    var list = el.messages;
    var stick = list.scrollHeight - list.scrollTop - list.clientHeight < 120 || senderOf(m) === 'agent';
    var item = messageElement(m);
    state.msgEls[key] = item;
    var id = Number(m.id);
    var node = list.lastChild;
    while (node && Number(node.getAttribute('data-id')) > id) node = node.previousSibling;
    list.insertBefore(item, node ? node.nextSibling : list.firstChild);
    if (stick) list.scrollTop = list.scrollHeight;
  }

  function onMessageFrame(frame) {
    var m = frame.message;
    var cid = frame.conversation_id;
    if (!m || !cid) return;
    if (cid === state.current) {
      if (senderOf(m) === 'customer') showCustomerTyping(false);
      if (state.convo) addMessage(m);
      else state.early.push(m);
      return;
    }
    if (senderOf(m) !== 'customer' || !state.queue) return;
    var mine = state.queue.live.some(function (hf) {
      return hf.conversation_id === cid && hf.agent_id === state.me.id;
    });
    if (mine) {
      state.unread[cid] = (state.unread[cid] || 0) + 1;
      renderSide();
      beep(false);
    }
  }

  // ------------------------------------------------------------------ canned replies
  // The conversation's set (bot/knowledge/canned_replies.yml), in the customer's language, named
  // in the staff member's.
  function renderCanned(replies, language) {
    clear(el.cannedButtons);
    replies.forEach(function (c) {
      var text = c.text;
      var name = c.labels[I18n.language] || c.key;
      var button = h('button', {
        type: 'button', class: 'c-btn c-btn--chip', 'data-canned': c.key, lang: language === 'en' ? 'en' : 'zh-CN', title: text,
        'aria-label': t('canned.insert', { label: name, language: I18n.label('language', language) })
      }, [name, h('span', { class: 'c-chip-lang', 'aria-hidden': 'true', text: t('canned.mark.' + (language === 'en' ? 'en' : 'zh')) })]);
      button.addEventListener('click', function () { insertReply(text); });
      el.cannedButtons.appendChild(button);
    });
  }

  function insertReply(text) {
    var input = el.replyInput;
    if (input.disabled) return;
    if (!input.value.trim()) {
      input.value = text;
      input.setSelectionRange(text.length, text.length);
    } else if (typeof input.setRangeText === 'function') {
      var start = input.selectionStart;
      var end = input.selectionEnd;
      var before = input.value.slice(0, start);
      var piece = (before && !/\s$/.test(before) ? ' ' : '') + text;
      input.setRangeText(piece, start, end, 'end');
    } else {
      input.value += ' ' + text;
    }
    input.focus();
    autoGrow();
    typed();
  }

  // ------------------------------------------------------------------ reply and typing
  function autoGrow() {
    var input = el.replyInput;
    input.style.height = 'auto';
    input.style.height = Math.min(Math.max(input.scrollHeight, 52), 200) + 'px';
  }

  function postTyping(on) {
    var id = state.current;
    if (!id) return;
    api('POST', '/conversations/' + encodeURIComponent(id) + '/typing', { on: on }).catch(function () {
      /* typing is a courtesy: never trouble the agent about it */
    });
  }

  function typed() {
    if (!canReply()) return;
    clearTimeout(state.typingTimer);
    if (!el.replyInput.value.trim()) {
      stopTyping(false);
      return;
    }
    var now = Date.now();
    if (!state.typingOn || now - state.typingSentAt > TYPING_REFRESH_MS) {
      state.typingOn = true;
      state.typingSentAt = now;
      postTyping(true);
    }
    state.typingTimer = setTimeout(function () { stopTyping(false); }, TYPING_IDLE_MS);
  }

  // The customer typing in the widget (the service sends it only while an agent has the
  // conversation, to that agent and supervisors); it goes on its own if the widget stops
  // refreshing it (closed tab, lost network).
  function showCustomerTyping(on) {
    clearTimeout(state.customerTypingTimer);
    state.customerTypingTimer = on ? setTimeout(function () { showCustomerTyping(false); }, CUSTOMER_TYPING_MS) : null;
    el.customerTyping.hidden = !on;
  }

  // silent: the customer's widget already stops the indicator (our reply arrived), send nothing
  function stopTyping(silent) {
    clearTimeout(state.typingTimer);
    state.typingTimer = null;
    if (state.typingOn && !silent) postTyping(false);
    state.typingOn = false;
  }

  el.replyInput.addEventListener('input', function () {
    autoGrow();
    typed();
  });
  el.replyInput.addEventListener('keydown', function (event) {
    // Enter sends, Shift+Enter is a new line; never while an input method is composing (pinyin).
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
      event.preventDefault();
      sendReply();
    }
  });
  el.replyForm.addEventListener('submit', function (event) {
    event.preventDefault();
    sendReply();
  });

  // overrideReason: the agent's reason for sending a draft the compliance guard refused (renderGuard)
  function sendReply(overrideReason) {
    var id = state.current;
    var text = el.replyInput.value.trim();
    if (!id || !canReply() || el.replySend.disabled) return;
    if (!text) {
      flash(t('reply.empty'), 'error');
      return;
    }
    if (text.length > MAX_CHARS) {
      flash(t('reply.too_long', { max: MAX_CHARS }), 'error');
      return;
    }
    var body = { text: text };
    if (typeof overrideReason === 'string') body.override_reason = overrideReason;
    el.replySend.disabled = true;
    guardBusy(true);
    api('POST', '/conversations/' + encodeURIComponent(id) + '/messages', body).then(function (data) {
      stopTyping(true);
      if (state.current === id) {
        addMessage(data.message);
        if (el.replyInput.value.trim() === text) el.replyInput.value = '';
        autoGrow();
        state.guard = null;
      }
    }, function (err) {
      if (state.current !== id) return;
      if (err.code === 'compliance_check' && err.details && Array.isArray(err.details.findings)) {
        refused(id, text, err.details);
      } else if (typeof overrideReason === 'string' && state.guard && err.status !== 401) {
        state.guard.error = err; // shown beside the reason (one the service did not accept…)
      } else {
        failed(err);
      }
    }).then(function () {
      el.replySend.disabled = !canReply();
      guardBusy(false);
      renderGuard();
      // back to the composer, unless the agent has gone on elsewhere (a note) while the reply went
      var active = document.activeElement;
      if (state.current !== id || (active && active !== document.body && !el.composer.contains(active))) return;
      if (state.guard && state.guard.asking) guardEl.reason.focus();
      else el.replyInput.focus();
    });
  }

  // ------------------------------------------------------------------ compliance guard
  // A reply the service refused (422 compliance_check, docs/compliance.md) keeps its draft in the
  // composer; beside it, each finding's reason (the words quoted in the draft) and what the agent
  // may do: edit the draft; append the risk disclosure the service gave (in the customer's
  // language) and send again; or send it anyway with a reason, which supervisors read.
  var guardEl = {
    panel: $('guard'), findings: $('guard-findings'), actions: $('guard-actions'), edit: $('guard-edit'),
    append: $('guard-append'), anyway: $('guard-anyway'), override: $('guard-override'), reason: $('guard-reason'),
    reasonError: $('guard-reason-error'), reasonCancel: $('guard-reason-cancel'), reasonSend: $('guard-reason-send')
  };
  var EXCERPT_CHARS = 16; // of the draft on either side of the words a finding quotes

  function refused(id, text, details) {
    var asking = !!(state.guard && state.guard.asking);
    state.guard = {
      conversation: id, text: text, findings: details.findings, disclosure: details.disclosure || null,
      asking: asking, error: null, busy: false
    };
  }

  // A finding's reason from the catalogue (guard.rule.<rule>); a rule the catalogue does not know yet by its id.
  function findingReason(f) {
    var params = {
      span: f.span || '', product: f.product || '', product_risk: f.product_risk || '', customer_level: f.customer_level || '', rule: f.rule
    };
    var key = 'guard.rule.' + f.rule;
    var said = t(key, params);
    return said === key ? t('guard.rule_other', params) : said;
  }

  // The words of the draft a finding is about, marked, with a little of the text around them.
  function findingExcerpt(text, f) {
    if (typeof f.start !== 'number' || typeof f.end !== 'number' || text.slice(f.start, f.end) !== f.span) return null;
    var from = Math.max(0, f.start - EXCERPT_CHARS);
    var to = Math.min(text.length, f.end + EXCERPT_CHARS);
    return h('q', { class: 'c-guard-excerpt', lang: langAttr(state.convo && state.convo.handoff.language) }, [
      (from > 0 ? '…' : '') + text.slice(from, f.start), h('mark', { text: f.span }), text.slice(f.end, to) + (to < text.length ? '…' : '')
    ]);
  }

  function renderGuard() {
    var g = state.guard;
    var shown = !!g && g.conversation === state.current;
    guardEl.panel.hidden = !shown;
    if (!shown) return;
    clear(guardEl.findings);
    g.findings.forEach(function (f) {
      guardEl.findings.appendChild(h('li', { class: 'c-guard-finding', 'data-rule': f.rule }, [
        h('span', { class: 'c-guard-why', text: findingReason(f) }), findingExcerpt(g.text, f)
      ]));
    });
    guardEl.append.hidden = !g.disclosure;
    guardEl.actions.hidden = g.asking;
    guardEl.override.hidden = !g.asking;
    guardEl.reasonError.hidden = !g.error;
    guardEl.reasonError.textContent = !g.error ? '' : typeof g.error === 'string' ? t(g.error) : I18n.error(g.error);
    [guardEl.edit, guardEl.append, guardEl.anyway, guardEl.reasonSend].forEach(function (b) { b.disabled = g.busy; });
  }

  function guardBusy(busy) {
    if (state.guard) state.guard.busy = busy;
    renderGuard();
  }

  guardEl.edit.addEventListener('click', function () {
    var g = state.guard;
    if (!g) return;
    var input = el.replyInput;
    input.focus();
    var first = g.findings[0];
    if (input.value.trim() === g.text && first && typeof first.start === 'number') {
      var offset = input.value.indexOf(g.text); // the draft as sent was trimmed
      input.setSelectionRange(offset + first.start, offset + first.end);
    }
  });
  guardEl.append.addEventListener('click', function () {
    var g = state.guard;
    if (!g || !g.disclosure) return;
    el.replyInput.value = el.replyInput.value.replace(/\s+$/, '') + '\n' + g.disclosure;
    autoGrow();
    sendReply();
  });
  guardEl.anyway.addEventListener('click', function () {
    if (!state.guard) return;
    state.guard.asking = true;
    state.guard.error = null;
    guardEl.reason.value = '';
    renderGuard();
    guardEl.reason.focus();
  });
  guardEl.reasonCancel.addEventListener('click', function () {
    if (!state.guard) return;
    state.guard.asking = false;
    state.guard.error = null;
    renderGuard();
    guardEl.anyway.focus();
  });
  guardEl.override.addEventListener('submit', function (event) {
    event.preventDefault();
    var g = state.guard;
    if (!g || g.busy) return;
    var reason = guardEl.reason.value.trim();
    g.error = reason ? null : 'guard.reason_missing';
    renderGuard();
    if (!reason) {
      guardEl.reason.focus();
      return;
    }
    sendReply(reason);
  });

  // ------------------------------------------------------------------ notes
  el.noteForm.addEventListener('submit', function (event) {
    event.preventDefault();
    var id = state.current;
    var text = el.noteInput.value.trim();
    if (!id) return;
    if (!text) {
      flash(t('notes.empty'), 'error');
      el.noteInput.focus();
      return;
    }
    el.noteAdd.disabled = true;
    api('POST', '/conversations/' + encodeURIComponent(id) + '/notes', { text: text }).then(function (data) {
      if (state.current === id) {
        el.noteInput.value = '';
        renderNotes(data.notes || []);
        flash(t('notes.added'), 'ok');
      }
    }, failed).then(function () {
      el.noteAdd.disabled = false;
    });
  });
  el.noteInput.addEventListener('keydown', function (event) {
    if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      el.noteAdd.click();
    }
  });

  // ------------------------------------------------------------------ claim, transfer, resolve
  el.claimBtn.addEventListener('click', function () {
    var hf = state.convo && state.convo.handoff;
    if (hf) claimHandoff(hf, el.claimBtn);
  });

  function openDialog(dialog) {
    if (typeof dialog.showModal === 'function') dialog.showModal();
    else dialog.setAttribute('open', '');
  }
  function closeDialog(dialog) {
    if (dialog.open && typeof dialog.close === 'function') dialog.close();
    else dialog.removeAttribute('open');
  }
  function closeDialogs() {
    closeDialog(el.resolveDialog);
    closeDialog(el.transferDialog);
  }

  el.resolveBtn.addEventListener('click', function () {
    if (!canReply()) return;
    el.resolveError.hidden = true;
    el.resolveConfirm.disabled = false;
    openDialog(el.resolveDialog);
    el.resolveConfirm.focus();
  });
  el.resolveCancel.addEventListener('click', function () {
    closeDialog(el.resolveDialog);
    el.resolveBtn.focus();
  });
  el.resolveForm.addEventListener('submit', function (event) {
    event.preventDefault();
    var hf = state.convo && state.convo.handoff;
    if (!hf) return;
    el.resolveConfirm.disabled = true;
    stopTyping(false);
    state.acting = true;
    api('POST', '/handoffs/' + encodeURIComponent(hf.id) + '/resolve').then(function () {
      state.acting = false;
      closeDialog(el.resolveDialog);
      delete state.unread[hf.conversation_id];
      flash(t('flash.resolved'), 'ok');
      showQueueView(true);
      refreshQueue();
    }, function (err) {
      state.acting = false;
      el.resolveConfirm.disabled = false;
      if (err.status === 401) return;
      el.resolveError.textContent = I18n.error(err);
      el.resolveError.hidden = false;
    });
  });

  function transferTarget() {
    var checked = el.transferForm.querySelector('input[name="target"]:checked');
    return checked ? checked.value : 'general';
  }
  el.transferForm.addEventListener('change', function () {
    var toAgent = transferTarget() === 'agent';
    el.transferAgent.disabled = !toAgent;
    if (toAgent) el.transferAgent.focus();
  });
  el.transferBtn.addEventListener('click', function () {
    if (!canReply()) return;
    el.transferError.hidden = true;
    el.transferConfirm.disabled = false;
    el.transferForm.querySelector('input[name="target"][value="general"]').checked = true;
    el.transferAgent.value = '';
    el.transferAgent.disabled = true;
    openDialog(el.transferDialog);
  });
  el.transferCancel.addEventListener('click', function () {
    closeDialog(el.transferDialog);
    el.transferBtn.focus();
  });
  el.transferForm.addEventListener('submit', function (event) {
    event.preventDefault();
    var hf = state.convo && state.convo.handoff;
    if (!hf) return;
    var target = transferTarget();
    var body;
    if (target === 'agent') {
      var agent = el.transferAgent.value.trim();
      if (!agent) {
        el.transferError.textContent = t('transfer.missing');
        el.transferError.hidden = false;
        el.transferAgent.focus();
        return;
      }
      body = { agent: agent };
    } else {
      body = { queue: target };
    }
    el.transferConfirm.disabled = true;
    stopTyping(false);
    state.acting = true;
    if (body.queue) state.quiet[hf.id] = true;
    api('POST', '/handoffs/' + encodeURIComponent(hf.id) + '/transfer', body).then(function () {
      state.acting = false;
      closeDialog(el.transferDialog);
      flash(body.agent ? t('flash.transferred_agent', { agent: body.agent }) : t('flash.transferred_queue', { queue: I18n.label('queue', body.queue) }), 'ok');
      showQueueView(true);
      refreshQueue();
    }, function (err) {
      state.acting = false;
      delete state.quiet[hf.id];
      el.transferConfirm.disabled = false;
      if (err.status === 401) return;
      el.transferError.textContent = I18n.error(err);
      el.transferError.hidden = false;
    });
  });

  // ------------------------------------------------------------------ automated mail
  // Machine mail (out-of-office replies, newsletters, bounces…) that a channel answering by
  // email keeps out of the queue (docs/architecture.md "Email channel"): a list of its own under
  // the queue, never counted as waiting; an agent may move one into the queue. Offered when an
  // installed channel replies by email and its list answers (not when the mailbox is off).
  var AUTOMATED = '/email/automated';
  var AUTOMATED_PAGE = 50;
  var automated = { shown: false, items: [], next: null, query: '', loading: false, generation: 0 };
  el.automated = $('automated');
  el.automatedCount = $('automated-count');
  el.automatedForm = $('automated-form');
  el.automatedQuery = $('automated-query');
  el.automatedBody = $('automated-body');
  el.automatedMore = $('automated-more');

  function startAutomated() {
    automated.shown = false;
    automated.items = [];
    automated.next = null;
    automated.query = '';
    el.automatedQuery.value = '';
    el.automated.open = false;
    var offered = Object.keys(CAPABILITIES).some(function (kind) { return CAPABILITIES[kind].replies_by_email; });
    renderAutomated();
    if (offered) loadAutomated(false);
  }

  // more: the next page (next_before) of the same search; otherwise the first page of the search box's.
  function loadAutomated(more) {
    if (!state.me) return;
    if (more && (automated.loading || automated.next === null)) return;
    if (!more) automated.query = el.automatedQuery.value.trim();
    var generation = more ? automated.generation : ++automated.generation;
    var query = '?limit=' + AUTOMATED_PAGE + (automated.query ? '&q=' + encodeURIComponent(automated.query) : '') +
      (more ? '&before=' + encodeURIComponent(automated.next) : '');
    automated.loading = true;
    renderAutomated();
    api('GET', AUTOMATED + query).then(function (data) {
      if (generation !== automated.generation) return;
      automated.shown = true;
      automated.items = (more ? automated.items : []).concat(data.automated || []);
      automated.next = data.next_before === undefined ? null : data.next_before;
    }, function (err) {
      if (generation !== automated.generation) return;
      if (err.status === 404) automated.shown = false; // no mailbox configured: nothing to list
      else failed(err);
    }).then(function () {
      if (generation !== automated.generation) return;
      automated.loading = false;
      renderAutomated();
    });
  }

  // The catalogue's names of the codes in a ticket's reason ("auto-submitted: auto-replied;
  // precedence: bulk"); the reasons that do not make mail automated (the caps) are left out.
  function automatedReasons(reason) {
    var names = [];
    String(reason || '').split('; ').forEach(function (part) {
      var key = 'automated.reason.' + part.split(':')[0].trim();
      var name = t(key);
      if (name !== key && names.indexOf(name) < 0) names.push(name);
    });
    return names;
  }

  function renderAutomated() {
    el.automated.hidden = !automated.shown;
    if (!automated.shown) return;
    var items = automated.items;
    el.automatedCount.textContent = I18n.number(items.length) + (automated.next !== null ? '+' : '');
    var focusKey = document.activeElement && document.activeElement.getAttribute('data-focus-key');
    clear(el.automatedBody);
    if (!items.length) {
      el.automatedBody.appendChild(h('tr', { class: 'c-empty-row' }, [
        h('td', { colspan: '5', class: 'c-empty', text: automated.loading ? t('automated.loading')
          : automated.query ? t('automated.none_found', { query: automated.query }) : t('automated.empty') })
      ]));
    }
    items.forEach(function (item) {
      var move = h('button', {
        type: 'button', class: 'c-btn c-btn--secondary c-btn--small', 'data-focus-key': 'automated-' + item.id,
        'aria-describedby': 'automated-subject-' + item.id, text: t('automated.move')
      });
      move.addEventListener('click', function () { moveToQueue(item, move); });
      el.automatedBody.appendChild(h('tr', { class: 'c-automated-row', 'data-ticket-id': item.id, 'data-conversation-id': item.conversation_id }, [
        h('td', { class: 'c-automated-time' }, [h('time', { datetime: item.received_at, text: I18n.dateTime(item.received_at) })]),
        h('td', { class: 'c-summary' }, [
          h('span', { text: item.name || item.address || '—' }),
          item.name && item.address ? h('span', { class: 'c-automated-sender', text: item.address }) : null
        ]),
        h('td', { class: 'c-summary' }, [item.subject
          ? h('span', { class: 'c-quote', id: 'automated-subject-' + item.id, lang: langAttr(item.language), text: item.subject })
          : h('span', { class: 'c-muted', id: 'automated-subject-' + item.id, text: t('automated.no_subject') })]),
        h('td', { title: item.reason || null }, [h('span', { class: 'c-automated-reasons' },
          automatedReasons(item.reason).map(function (name) { return badge(name); }))]),
        h('td', { class: 'c-action' }, [move])
      ]));
    });
    el.automatedMore.hidden = automated.next === null;
    el.automatedMore.disabled = automated.loading;
    restoreFocus(el.automatedBody, focusKey);
  }

  // Into the queue: it leaves this list and waits like any mail (the queue_changed frame, and
  // the refresh here, bring it into the queue). 409: someone moved it first.
  function moveToQueue(item, button) {
    button.disabled = true;
    function drop() {
      automated.items = automated.items.filter(function (other) { return other.id !== item.id; });
      renderAutomated();
    }
    api('POST', item.queue_url.slice(API.length)).then(function (data) {
      flash(t('automated.moved', { reference: data.reference || item.reference }), 'ok');
      drop();
      refreshQueue();
    }, function (err) {
      if (err.status === 409 || err.status === 404) {
        flash(t(err.status === 409 ? 'automated.already_moved' : 'automated.gone'), 'error');
        drop();
        refreshQueue();
      } else {
        button.disabled = false;
        failed(err);
      }
    });
  }

  el.automatedForm.addEventListener('submit', function (event) {
    event.preventDefault();
    loadAutomated(false);
  });
  el.automatedMore.addEventListener('click', function () { loadAutomated(true); });
  el.automated.addEventListener('toggle', function () { // opened: what arrived since
    if (el.automated.open && !automated.loading) loadAutomated(false);
  });

  // ------------------------------------------------------------------ language
  // Everything on the page again, in the language just chosen: the catalogue's attributes
  // (I18n.use has applied them), then each panel from the state.
  function relabel() {
    if (!el.loginView.hidden) {
      renderLoginMessage();
      document.title = t('page.login');
    }
    if (!state.me) return;
    renderTopbar();
    renderQueue();
    renderSide();
    renderAutomated();
    renderGuard();
    updateTitle();
    if (!el.banner.hidden) hideBanner(); // its words, and the flash's, were the old language's
    el.flash.hidden = true;
    if (state.convo) { // its messages anew (with the ones that came since it was loaded)
      clear(el.messages);
      state.msgEls = {};
      renderConversation(state.convo);
      reloadConversation();
    }
  }
  I18n.onChange(relabel);

  // Logged in: the staff member's language, the installed channels, then the console.
  function start(staff, csrf) {
    return I18n.use(staff.language).then(loadChannels).then(function () { enterApp(staff, csrf); });
  }

  // ------------------------------------------------------------------ start
  showBoot();
  I18n.use(I18n.browserLanguage()).then(function () {
    return api('GET', '/me').then(function (me) {
      return start(me.staff, me.csrf_token);
    }).then(null, function (err) {
      showLogin(err.status === 401 ? null : err);
    });
  });
})();
