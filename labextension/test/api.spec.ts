/**
 * The REST client against a fake `fetch` behind the real `ServerConnection.makeRequest`: the
 * URL, verb, body and token it sends, and the errors it turns answers into.
 */
import { ServerConnection } from '@jupyterlab/services';

import { PluginsClient, serverMessage } from '../src/api';

const BASE = 'http://localhost:8888/lab-base/';

function json(status: number, body: unknown, statusText = ''): Response {
  return new Response(JSON.stringify(body), {
    status,
    statusText,
    headers: { 'Content-Type': 'application/json' }
  });
}

/** A client whose requests go to `answer` (one answer per call, in order). */
function clientAnswering(...answers: (Response | Error)[]): {
  client: PluginsClient;
  requests: Request[];
} {
  const requests: Request[] = [];
  const fetch = jest.fn(async (request: Request) => {
    requests.push(request);
    const answer = answers.shift();
    if (answer === undefined) {
      throw new Error(`unexpected request ${request.method} ${request.url}`);
    }
    if (answer instanceof Error) {
      throw answer;
    }
    return answer;
  });
  const serverSettings = ServerConnection.makeSettings({
    baseUrl: BASE,
    token: 'secret-token',
    fetch: fetch as unknown as typeof window.fetch
  });
  return { client: new PluginsClient({ serverSettings }), requests };
}

function path(request: Request): string {
  return new URL(request.url).pathname;
}

describe('PluginsClient', () => {
  it('lists the installed plugins with the Jupyter token', async () => {
    const plugin = {
      plugin_id: 'my_plugin',
      name: 'my_plugin',
      active_version: '1.0.0',
      versions: ['1.0.0'],
      enabled: true
    };
    const { client, requests } = clientAnswering(json(200, { plugins: [plugin], count: 1 }));

    await expect(client.installed()).resolves.toEqual([plugin]);

    expect(requests).toHaveLength(1);
    expect(requests[0].method).toBe('GET');
    expect(path(requests[0])).toBe('/lab-base/api/plugins/list');
    expect(requests[0].headers.get('Authorization')).toBe('token secret-token');
  });

  it('searches the marketplace with a JSON body', async () => {
    const entry = { name: 'my_plugin', latest_version: '1.1.0', installed_version: '1.0.0' };
    const { client, requests } = clientAnswering(json(200, { results: [entry], total: 1 }));

    await expect(client.search('residuals')).resolves.toEqual([entry]);

    expect(requests[0].method).toBe('POST');
    expect(path(requests[0])).toBe('/lab-base/api/plugins/marketplace/search');
    expect(requests[0].headers.get('Content-Type')).toBe('application/json');
    expect(await requests[0].json()).toEqual({ query: 'residuals' });
  });

  it('installs from the local catalog by name, from a remote one with its source', async () => {
    const installed = { plugin_id: 'p', name: 'p', version: '1.0.0', enabled: false };
    const { client, requests } = clientAnswering(json(201, installed), json(201, installed));

    await expect(client.installFromMarketplace('p', 'local')).resolves.toEqual(installed);
    await client.installFromMarketplace('p', 'team-hub', '2.0.0');

    expect(path(requests[0])).toBe('/lab-base/api/plugins/marketplace/install');
    expect(await requests[0].json()).toEqual({ name: 'p' });
    expect(await requests[1].json()).toEqual({ name: 'p', version: '2.0.0', source: 'team-hub' });
  });

  it('enables, updates, rolls back and uninstalls by URL-encoded id', async () => {
    const { client, requests } = clientAnswering(
      json(200, { plugin_id: 'a b', enabled: true }),
      json(200, { plugin_id: 'a b', active_version: '1.1.0' }),
      json(200, { plugin_id: 'a b', active_version: '1.0.0' }),
      json(200, { plugin_id: 'a b' })
    );

    await client.setEnabled('a b', true);
    await expect(client.update('a b')).resolves.toMatchObject({ active_version: '1.1.0' });
    await client.rollback('a b', '1.0.0', 'why');
    await client.uninstall('a b');

    expect(requests.map(r => `${r.method} ${path(r)}`)).toEqual([
      'POST /lab-base/api/plugins/a%20b/enable',
      'POST /lab-base/api/plugins/a%20b/update',
      'POST /lab-base/api/plugins/a%20b/rollback',
      'DELETE /lab-base/api/plugins/a%20b'
    ]);
    // `update {}`: no target, the server picks the newest version (fetching it if needed).
    expect(await requests[1].json()).toEqual({});
    expect(await requests[2].json()).toEqual({ target_version: '1.0.0', reason: 'why' });
  });

  it('turns a 400 with a JSON message into a ResponseError carrying that message', async () => {
    const message = "Plugin name 'Bad Name' must be lower_snake_case.";
    const { client } = clientAnswering(
      json(400, { message, reason: null }, 'Bad Request')
    );

    const error = await client.installFromMarketplace('Bad Name').catch(e => e);

    expect(error).toBeInstanceOf(ServerConnection.ResponseError);
    expect(error.message).toBe(message);
    expect(error.response.status).toBe(400);
  });

  it('keeps the status line when an error answer is not JSON', async () => {
    const { client } = clientAnswering(
      new Response('<html>proxy error</html>', { status: 502, statusText: 'Bad Gateway' })
    );

    const error = await client.installed().catch(e => e);

    expect(error).toBeInstanceOf(ServerConnection.ResponseError);
    expect(error.message).toBe('The server answered 502 Bad Gateway.');
  });

  it('rejects a success answer that is not JSON', async () => {
    const { client } = clientAnswering(new Response('not json', { status: 200 }));

    const error = await client.installed().catch(e => e);

    expect(error).toBeInstanceOf(ServerConnection.ResponseError);
    expect(error.message).toBe('The server sent an answer that is not JSON.');
  });

  it('rejects with a NetworkError when the server cannot be reached', async () => {
    const { client } = clientAnswering(new TypeError('Failed to fetch'));

    await expect(client.featured()).rejects.toBeInstanceOf(ServerConnection.NetworkError);
  });
});

describe('serverMessage', () => {
  it('reads the message of a jupyter_server error body, nothing else', () => {
    expect(serverMessage('{"message": "No plugin named \'x\'.", "reason": null}')).toBe(
      "No plugin named 'x'."
    );
    expect(serverMessage('{"message": "  "}')).toBeNull();
    expect(serverMessage('{"error": "x"}')).toBeNull();
    expect(serverMessage('Traceback (most recent call last)')).toBeNull();
  });
});

describe('PluginsClient for the details section', () => {
  it('asks for the README, scan report, reviews and runs of one plugin', async () => {
    const { client, requests } = clientAnswering(
      json(200, { plugin_id: 'a b', version: '1.0.0', readme: 'x', html: '<p>x</p>' }),
      json(200, { plugin_id: 'a b', version: '1.0.0', report: { passed: true } }),
      json(200, { reviews: [{ id: 1, user: 'u', text: 't' }], rating: { average: 4, count: 1 } }),
      json(200, { executions: [{ execution_id: 'e1', status: 'succeeded' }] }),
      json(200, { execution_id: 'e1', status: 'succeeded', logs: ['l'] }),
      json(201, { id: 2 })
    );
    await expect(client.readme('a b')).resolves.toMatchObject({ html: '<p>x</p>' });
    await expect(client.scanReport('a b')).resolves.toMatchObject({ report: { passed: true } });
    await expect(client.reviews('a b')).resolves.toMatchObject({ rating: { count: 1 } });
    await expect(client.executions('a b')).resolves.toHaveLength(1);
    await expect(client.execution('a b', 'e1')).resolves.toMatchObject({ logs: ['l'] });
    await client.addReview('a b', 'good', 5);
    // ServerConnection adds a cache-busting number to each URL: left out here.
    const page = (r: Request) => new URL(r.url).searchParams.get('page_size');
    expect(requests.map(r => `${r.method} ${path(r)}${page(r) ? `?page_size=${page(r)}` : ''}`)).toEqual([
      'GET /lab-base/api/plugins/a%20b/readme',
      'GET /lab-base/api/plugins/a%20b/scan',
      'GET /lab-base/api/plugins/a%20b/reviews',
      'GET /lab-base/api/plugins/a%20b/executions?page_size=20',
      'GET /lab-base/api/plugins/a%20b/executions/e1',
      'POST /lab-base/api/plugins/a%20b/review'
    ]);
    expect(await requests[5].json()).toEqual({ text: 'good', rating: 5 });
  });
});
