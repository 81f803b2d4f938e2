// The HTTP API as the console uses it: JSON in and out, the session token as a bearer
// header, every error answer ({code, message}) thrown as an ApiError.

export class ApiError extends Error {
  constructor(status, code, message) {
    super(`${code}: ${message}`);
    this.status = status;
    this.code = code;
  }
}

export async function call(method, path, { token, body } = {}) {
  const headers = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let resp;
  try {
    resp = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    throw new ApiError(0, 'NETWORK', `the server did not answer (${e.message})`);
  }
  const text = await resp.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { /* not JSON: reported below */ }
  if (!resp.ok) {
    throw new ApiError(resp.status, json?.code || `HTTP_${resp.status}`, json?.message || text.slice(0, 200));
  }
  return json ?? text;
}

/** An API bound to a session token. */
export function session(token) {
  return {
    token,
    get: (path) => call('GET', path, { token }),
    post: (path, body) => call('POST', path, { token, body }),
  };
}
