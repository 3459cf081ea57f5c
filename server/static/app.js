// Movie night: a group says who is watching and what they feel like, and gets one list of movies.
//
// Everything the server sends (titles, overviews, the prompt it echoes back as the mood and the
// constraints) is shown with textContent: the page builds its elements with createElement and never
// parses data as HTML. The server's Content-Security-Policy allows only this file as script.
"use strict";

const LIMIT = 12;
const TOKEN_KEY = "movierec.token";
const STARS = ["0.5", "1", "1.5", "2", "2.5", "3", "3.5", "4", "4.5", "5"];
// Chips whose aspect has an explicit request field, so a person can edit them (the words of
// Understood.constraints: "1990-1999", "from 2000", "until 1960", "at most 95 min").
const YEARS = /^(\d{1,4}-\d{1,4}|from \d{1,4}|until \d{1,4})$/;
const RUNTIME = /^at most \d+ min$/;

const state = {
  members: [], // {id: number} for a known user, {name: string} for a guest, in the order added
  prompt: "",
  dropped: [], // chips removed since the prompt was last asked
  explicit: {}, // year_min, year_max, max_runtime set by editing a chip
  baseline: [], // the chips of the prompt as first read: an edited aspect drops the prompt's own reading
  understood: null,
  movies: [],
  passed: new Set(), // movies passed over with no known user to record it for: kept out of this tab's lists
  rater: null, // the known user feedback is recorded for
  asked: false,
  seq: 0, // only the newest request's answer is shown
  undo: null, // the last mark, which the notice can take back
};

const $ = (id) => document.getElementById(id);

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "text") node.textContent = value;
    else if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key in node && typeof value !== "string") node[key] = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  node.append(...children.filter((c) => c !== null && c !== undefined && c !== false));
  return node;
}

// -- the API ----------------------------------------------------------------------------------------
class ApiError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new ApiError("UNAVAILABLE", "Could not reach the server. Check the connection and try again.");
  }
  let data = null;
  try {
    data = await response.json();
  } catch {
    // not JSON (a proxy's error page): the status says enough
  }
  if (!response.ok) {
    const error = (data && data.error) || {};
    let message = error.message || `The server answered ${response.status}.`;
    if (response.status === 401 || response.status === 403) message += " (Check the access token below.)";
    throw new ApiError(error.code || String(response.status), message);
  }
  return data || {};
}

function requestId() {
  // Makes a retried feedback call count once; randomUUID needs a secure context, which plain http
  // on a LAN address is not.
  return crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(16).slice(2)}`;
}

// -- errors and announcements -----------------------------------------------------------------------
function showError(error) {
  $("error").textContent = error instanceof ApiError ? error.message : `Something went wrong: ${error.message}`;
}

function clearError() {
  $("error").textContent = "";
}

function setStatus(text) {
  $("status").textContent = text;
}

// The notice is a live region (role=status): what is put in it is read out without moving the focus.
function showNotice(text, undo) {
  state.undo = undo;
  $("notice-text").textContent = text;
  $("undo").hidden = !undo;
}

function clearNotice() {
  state.undo = null;
  $("notice-text").textContent = "";
  $("undo").hidden = true;
}

// -- members --------------------------------------------------------------------------------------------
const known = () => state.members.filter((m) => m.id !== undefined);
const memberName = (m) => (m.id !== undefined ? `User ${m.id}` : m.name);

async function addMember(text) {
  const value = text.trim();
  if (!value) return;
  if (/^\d+$/.test(value)) {
    const id = Number(value);
    if (known().some((m) => m.id === id)) throw new ApiError("ALREADY_EXISTS", `User ${id} is already in.`);
    try {
      await api("GET", `/v1/users/${id}`);
    } catch (error) {
      if (error.code === "NOT_FOUND") {
        throw new ApiError(error.code, `There is no user ${id}. Add them by name as a guest instead.`);
      }
      throw error;
    }
    state.members.push({ id });
  } else {
    if (state.members.some((m) => m.name === value)) throw new ApiError("ALREADY_EXISTS", `${value} is already in.`);
    state.members.push({ name: value });
  }
}

function renderMembers() {
  const list = $("members");
  list.replaceChildren(
    ...state.members.map((m) =>
      el("li", { class: m.id !== undefined ? "member" : "member guest" },
        el("span", { text: memberName(m) }),
        m.id === undefined ? el("span", { class: "tag", text: "guest" }) : null,
        el("button", { type: "button", class: "icon", "aria-label": `Remove ${memberName(m)}`, text: "×",
          onclick: () => removeMember(m) }),
      ),
    ),
  );
  const users = known();
  if (!users.some((m) => m.id === state.rater)) state.rater = users.length ? users[0].id : null;
  const rater = $("rater");
  rater.replaceChildren(...users.map((m) => el("option", { value: String(m.id), text: memberName(m) })));
  if (state.rater !== null) rater.value = String(state.rater);
  $("rater-field").hidden = users.length < 2;
}

function removeMember(member) {
  state.members = state.members.filter((m) => m !== member);
  renderMembers();
  $("member-input").focus();
  if (state.asked) ask();
}

// -- asking -------------------------------------------------------------------------------------------
function recommendRequest() {
  const request = { prompt: state.prompt, limit: LIMIT, with_details: true, ...state.explicit };
  const users = known().map((m) => m.id);
  if (users.length) request.user_id = users[0];
  if (users.length > 1) request.group_user_ids = users.slice(1);
  if (state.dropped.length) request.dropped = state.dropped;
  if (state.passed.size) request.excluded_movie_ids = [...state.passed];
  return request;
}

// Asks for the list the page's state describes. True when it is shown, false when the server refused
// (its message is shown), null when a newer request overtook this one.
async function ask() {
  if (!state.prompt && !known().length) {
    showError(new ApiError("INVALID_ARGUMENT", "Say what you feel like, or add a known user."));
    $("prompt").focus();
    return false;
  }
  const seq = ++state.seq;
  state.asked = true;
  $("cards").setAttribute("aria-busy", "true");
  setStatus("Finding movies…");
  try {
    const response = await api("POST", "/v1/recommend", recommendRequest());
    if (seq !== state.seq) return null;
    clearError();
    state.understood = response.understood || {};
    state.movies = response.movies || [];
    if (!state.dropped.length && !Object.keys(state.explicit).length) {
      state.baseline = state.understood.constraints || [];
    }
    renderUnderstood();
    renderMovies();
    return true;
  } catch (error) {
    if (seq !== state.seq) return null;
    showError(error);
    setStatus(state.movies.length ? "The list was not updated: see the message above." : "No suggestions yet.");
    return false;
  } finally {
    if (seq === state.seq) $("cards").removeAttribute("aria-busy");
  }
}

// -- what was understood ----------------------------------------------------------------------------------
function aspectOf(chip) {
  if (YEARS.test(chip)) return "years";
  if (RUNTIME.test(chip)) return "runtime";
  return null;
}

// The prompt's own reading of an aspect leaves with it, so an edited or removed chip does not come back.
function dropAspect(aspect, chip) {
  const gone = state.baseline.filter((c) => aspectOf(c) === aspect);
  if (chip) gone.push(chip);
  for (const c of gone) if (!state.dropped.includes(c)) state.dropped.push(c);
}

// Changes the reading (`change` edits state.dropped and state.explicit) and asks again; when the server
// refuses, the change is taken back, so the chips shown stay those of the list shown.
async function reask(change) {
  const before = { dropped: [...state.dropped], explicit: { ...state.explicit } };
  change();
  const shown = await ask();
  if (shown) {
    focusAfterChips();
  } else if (shown === false) {
    state.dropped = before.dropped;
    state.explicit = before.explicit;
  }
}

function removeChip(chip) {
  reask(() => {
    const aspect = aspectOf(chip);
    if (aspect === "years") {
      delete state.explicit.year_min;
      delete state.explicit.year_max;
      dropAspect(aspect, chip);
    } else if (aspect === "runtime") {
      delete state.explicit.max_runtime;
      dropAspect(aspect, chip);
    } else if (!state.dropped.includes(chip)) {
      state.dropped.push(chip);
    }
  });
}

function focusAfterChips() {
  const first = $("chips").querySelector("button");
  (first || $("prompt")).focus();
}

// Closing the editor (Cancel, Escape) takes the focus with it; it goes back to the chip's Edit button
// rather than falling to the page's body.
function closeEditor(chip) {
  renderUnderstood();
  const edit = [...$("chips").querySelectorAll("button")].find((b) => b.getAttribute("aria-label") === `Edit ${chip}`);
  if (edit) edit.focus();
  else focusAfterChips();
}

function numberField(label, name, value, min, max) {
  return el("label", { class: "inline" }, label,
    el("input", { type: "number", name, inputmode: "numeric", min, max, value: value ?? "", class: "short" }));
}

function editChip(item, chip) {
  const u = state.understood || {};
  const aspect = aspectOf(chip);
  const fields = aspect === "years"
    ? [numberField("From year", "year_min", u.year_min, 1870, 2100), numberField("to", "year_max", u.year_max, 1870, 2100)]
    : [numberField("At most", "max_runtime", u.runtime_max, 1, 1000), el("span", { text: "min" })];
  const form = el("form", { class: "chip-edit", "aria-label": `Edit ${chip}` },
    ...fields,
    el("button", { type: "submit", text: "Apply" }),
    el("button", { type: "button", class: "secondary", text: "Cancel", onclick: () => closeEditor(chip) }),
  );
  form.addEventListener("keydown", (event) => {
    if (event.key === "Escape") closeEditor(chip);
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const values = Object.fromEntries(new FormData(form));
    const read = (name) => (values[name] === "" ? undefined : Number(values[name]));
    reask(() => {
      if (aspect === "years") {
        delete state.explicit.year_min;
        delete state.explicit.year_max;
        if (read("year_min") !== undefined) state.explicit.year_min = read("year_min");
        if (read("year_max") !== undefined) state.explicit.year_max = read("year_max");
      } else {
        delete state.explicit.max_runtime;
        if (read("max_runtime") !== undefined) state.explicit.max_runtime = read("max_runtime");
      }
      dropAspect(aspect, chip);
    });
  });
  item.replaceChildren(form);
  form.querySelector("input").focus();
}

function renderUnderstood() {
  const u = state.understood || {};
  $("asked").textContent = state.prompt ? `“${state.prompt}”` : "(nothing: your taste alone)";
  $("mood").textContent = u.mood ? `“${u.mood}”` : "(none: constraints only)";
  const chips = u.constraints || [];
  $("chips").replaceChildren(
    ...chips.map((chip) => {
      const item = el("li", { class: "chip" }, el("span", { text: chip }));
      if (aspectOf(chip)) {
        item.append(el("button", { type: "button", class: "icon", "aria-label": `Edit ${chip}`, text: "✎",
          onclick: () => editChip(item, chip) }));
      }
      item.append(el("button", { type: "button", class: "icon", "aria-label": `Remove ${chip}`, text: "×",
        onclick: () => removeChip(chip) }));
      return item;
    }),
  );
  $("chips-hint").hidden = !chips.length;
  $("understood").hidden = !state.prompt && !chips.length;
}

// -- the cards --------------------------------------------------------------------------------------------
function metaLine(movie, details) {
  const parts = [];
  const year = movie.year || details.year;
  if (year) parts.push(String(year));
  if (details.runtime) parts.push(`${details.runtime} min`);
  const genres = movie.genres || details.genres || [];
  if (genres.length) parts.push(genres.slice(0, 3).join(", "));
  return parts.join(" · ");
}

function fitList(movie) {
  const fit = movie.member_fit || {};
  const users = known().filter((m) => fit[m.id] !== undefined);
  if (users.length < 2) return null;
  return el("ul", { class: "fit", "aria-label": "How well it fits each of you" },
    ...users.map((m) => {
      const value = Number(fit[m.id]);
      const percent = `${Math.round(value * 100)}%`;
      return el("li", {},
        el("span", { class: "who", text: memberName(m) }),
        el("meter", { min: "0", max: "1", value: String(value), "aria-label": `${memberName(m)}: ${percent}` }),
        el("span", { class: "pct", text: percent, "aria-hidden": "true" }));
    }));
}

function ratingForm(movie, titleId, status) {
  const select = el("select", { name: "rating", "aria-describedby": titleId },
    el("option", { value: "", text: "Rate…" }),
    ...STARS.map((s) => el("option", { value: s, text: `${s} ${s === "1" ? "star" : "stars"}` })));
  const form = el("form", { class: "rate" },
    el("label", { class: "visually-hidden", for: `rate-${movie.movie_id}`, text: `Rating for ${movie.title}` }),
    select,
    el("button", { type: "submit", class: "secondary", text: "Rate", "aria-describedby": titleId }));
  select.id = `rate-${movie.movie_id}`;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!select.value) {
      showError(new ApiError("INVALID_ARGUMENT", `Choose a rating for “${movie.title}” first, then press Rate.`));
      select.focus();
      return;
    }
    if (state.rater === null) {
      showError(new ApiError("INVALID_ARGUMENT", "Add a known user (a user id) to rate for."));
      return;
    }
    const rater = state.rater;
    try {
      await api("POST", "/v1/feedback", { user_id: rater, movie_id: Number(movie.movie_id), rating: Number(select.value),
        kind: "RATING", request_id: requestId() });
      clearError();
      status.textContent = `Saved: ${select.value} ★ from User ${rater}.`;
    } catch (error) {
      showError(error);
    }
  });
  return form;
}

// Undo passes the member the mark was made for, whoever is chosen by then.
async function mark(movie, kind, undo = false, rater = state.rater) {
  const id = Number(movie.movie_id);
  const words = kind === "SEEN" ? "seen" : "not for us";
  if (rater === null) {
    // Nobody known to record it for: this tab keeps it out of the lists.
    if (undo) state.passed.delete(id);
    else state.passed.add(id);
  } else {
    try {
      await api("POST", "/v1/feedback", { user_id: rater, movie_id: id, kind, undo, request_id: requestId() });
    } catch (error) {
      showError(error);
      return;
    }
  }
  const who = rater === null ? "" : ` for User ${rater}`;
  showNotice(undo ? `“${movie.title}” is back.` : `“${movie.title}” marked ${words}${who}.`,
    undo ? null : () => mark(movie, kind, true, rater));
  const position = state.movies.findIndex((m) => Number(m.movie_id) === id);
  if (!(await ask())) return;
  // An undone mark brings its movie back: the focus goes to it, where the list has room for it.
  const back = undo ? [...$("cards").querySelectorAll("article")].find((c) => c.dataset.movieId === String(id)) : null;
  if (back) back.querySelector("h3").focus();
  else focusCard(position);
}

function focusCard(position) {
  const cards = $("cards").querySelectorAll("article");
  const card = cards[Math.min(Math.max(position, 0), cards.length - 1)];
  (card ? card.querySelector("h3") : $("results-title")).focus();
}

function card(movie) {
  const details = movie.details || {};
  const titleId = `title-${movie.movie_id}`;
  const status = el("p", { class: "card-status", role: "status" });
  const directors = details.directors || [];
  return el("article", { class: "card", "data-movie-id": String(movie.movie_id), "aria-labelledby": titleId },
    el("h3", { id: titleId, tabindex: "-1", text: movie.title }),
    el("p", { class: "meta", text: metaLine(movie, details) }),
    directors.length ? el("p", { class: "director", text: `Directed by ${directors.join(", ")}` }) : null,
    details.overview ? el("p", { class: "overview", text: details.overview }) : null,
    movie.reason ? el("p", { class: "reason", text: movie.reason }) : null,
    movie.unmet && movie.unmet.length
      ? el("p", { class: "unmet", text: `Not quite: misses the ${movie.unmet.join(", ")} asked for.` }) : null,
    fitList(movie),
    el("div", { class: "actions" },
      el("button", { type: "button", text: "Seen it", "aria-describedby": titleId, onclick: () => mark(movie, "SEEN") }),
      el("button", { type: "button", class: "secondary", text: "Not for us", "aria-describedby": titleId,
        onclick: () => mark(movie, "NOT_INTERESTED") }),
      state.rater !== null ? ratingForm(movie, titleId, status) : null),
    status);
}

function renderMovies() {
  $("cards").replaceChildren(...state.movies.map(card));
  const users = known();
  const forWhom = users.length ? ` for ${users.map(memberName).join(" and ")}` : "";
  setStatus(state.movies.length
    ? `${state.movies.length} suggestion${state.movies.length === 1 ? "" : "s"}${forWhom}.`
    : "Nothing fits all of that. Try removing a constraint.");
}

// -- wiring ------------------------------------------------------------------------------------------
function init() {
  $("member-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const input = $("member-input");
    try {
      await addMember(input.value);
      clearError();
      input.value = "";
      renderMembers();
      if (state.asked) ask();
    } catch (error) {
      showError(error);
    }
    input.focus();
  });

  $("ask-form").addEventListener("submit", (event) => {
    event.preventDefault();
    state.prompt = $("prompt").value.trim();
    // A new prompt is read afresh: the chips removed or edited belonged to the last one.
    state.dropped = [];
    state.explicit = {};
    state.baseline = [];
    ask();
  });

  $("rater").addEventListener("change", (event) => {
    state.rater = Number(event.target.value);
  });

  $("undo").addEventListener("click", () => {
    const undo = state.undo;
    // The button goes away with the notice; the focus goes to the list (then to the movie that comes
    // back) rather than falling to the page's body.
    $("results-title").focus();
    clearNotice();
    if (undo) undo();
  });

  const token = $("token");
  token.value = sessionStorage.getItem(TOKEN_KEY) || "";
  $("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    if (token.value.trim()) sessionStorage.setItem(TOKEN_KEY, token.value.trim());
    else sessionStorage.removeItem(TOKEN_KEY);
    showNotice(token.value.trim() ? "Token saved for this tab." : "Token removed.", null);
  });

  renderMembers();
}

init();
