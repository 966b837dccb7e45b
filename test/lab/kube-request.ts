// One raw HTTPS request to a lab kube-apiserver, answered with the status and the parsed body
// whatever the status, so that tests can assert refusals as well as answers.
import * as https from 'node:https';

export interface ApiResponse {
  status: number;
  body: unknown;
}

export interface KubeRequest {
  url: string;
  ca: Buffer;
  token: string;
  method: string;
  body?: unknown;
  contentType?: string | undefined;
}

export function httpsJsonRequest(req: KubeRequest): Promise<ApiResponse> {
  const payload = req.body === undefined ? undefined : JSON.stringify(req.body);
  return new Promise((resolve, reject) => {
    const call = https.request(
      req.url,
      {
        method: req.method,
        ca: req.ca,
        timeout: 10_000,
        headers: {
          Authorization: `Bearer ${req.token}`,
          Accept: 'application/json',
          ...(payload === undefined ? {} : { 'Content-Type': req.contentType ?? 'application/json' }),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => {
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            // plain-text answers (e.g. /readyz) stay text
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
      },
    );
    call.on('timeout', () => call.destroy(new Error(`${req.method} ${req.url}: timeout`)));
    call.on('error', reject);
    call.end(payload);
  });
}
