// fetch() for the API with the session cookie and CSRF token; errors carry the server's reason.

function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

export class ApiError extends Error {
  constructor(status, body) {
    super(ApiError.reason(body) || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }

  static reason(body) {
    if (!body || typeof body !== "object") return "";
    if (body.detail) return String(body.detail);
    return Object.entries(body).map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(" ") : v}`).join("; ");
  }
}

export async function api(url, { method = "GET", body, headers = {} } = {}) {
  const init = { method, credentials: "same-origin", headers: { Accept: "application/json", ...headers } };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers["Content-Type"] = "application/json";
  }
  if (method !== "GET") init.headers["X-CSRFToken"] = csrfToken();
  const response = await fetch(url, init);
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; } // an HTML error page says nothing useful
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

/** The rows of a list endpoint, paginated ({results}) or not. */
export async function rows(url) {
  const data = await api(url);
  return Array.isArray(data) ? data : (data?.results ?? []);
}

/** Every row of a paginated list, page after page: for lists that can outgrow one page (a coordinator's two
 * weeks of slots, a clinic's referrals). `url` may carry its own query; limit and offset are set here. */
export async function allRows(url, pageSize = 500) {
  const out = [];
  for (let offset = 0; ; offset += pageSize) {
    const target = new URL(url, location.origin);
    target.searchParams.set("limit", String(pageSize));
    target.searchParams.set("offset", String(offset));
    const data = await api(`${target.pathname}${target.search}`);
    if (Array.isArray(data)) return data; // not paginated: whole already
    const page = data?.results ?? [];
    out.push(...page);
    if (!data?.next || !page.length) return out;
  }
}

export { csrfToken };
