/**
 * The model against a client double: what it asks the server, in which order, and what it
 * then shows (lists, update offers, the status line, load errors).
 */
import { ServerConnection } from '@jupyterlab/services';

import { PluginsModel } from '../src/model';
import { entry, FakeClient, plugin, refused } from './fakes';

/** The calls made after the first refresh (the ones an action caused). */
function after(client: FakeClient, action: () => Promise<unknown>): Promise<string[]> {
  const start = client.calls.length;
  return action().then(() => client.calls.slice(start));
}

describe('PluginsModel', () => {
  let client: FakeClient;
  let model: PluginsModel;

  beforeEach(() => {
    client = new FakeClient();
    model = new PluginsModel({ client });
  });

  afterEach(() => {
    model.dispose();
  });

  it('loads the installed list and the featured plugins, then tells its views', async () => {
    client.installedPlugins = [plugin()];
    client.catalog = [entry()];
    const changed = jest.fn();
    model.stateChanged.connect(changed);

    expect(model.installed).toBeNull();
    expect(model.results).toBeNull();
    await model.refresh();

    expect(client.calls.sort()).toEqual(['featured', 'installed']);
    expect(model.installed).toEqual([plugin()]);
    expect(model.results).toEqual([entry()]);
    expect(model.resultsQuery).toBe('');
    expect(model.isLoading).toBe(false);
    expect(changed).toHaveBeenCalled();
  });

  it('installs from the marketplace, then enables, then shows the new state', async () => {
    client.catalog = [entry()];
    await model.refresh();
    client.installedPlugins = [plugin({ enabled: true })];

    const calls = await after(client, () => model.install(entry()));

    expect(calls.slice(0, 2)).toEqual(['install my_plugin local', 'enable my_plugin']);
    // Then both lists are reloaded: the server's state is what is shown.
    expect(calls.slice(2).sort()).toEqual(['featured', 'installed']);
    expect(model.status).toEqual({
      kind: 'info',
      text: 'Installed and enabled my_plugin 1.0.0.'
    });
    expect(model.installed?.[0].enabled).toBe(true);
    expect(model.pendingAction('my_plugin')).toBeNull();
  });

  it('shows the server message and does not enable when the install is refused', async () => {
    client.fail.installFromMarketplace = refused(
      409,
      "Plugin 'my_plugin' 1.0.0 is already installed."
    );

    const ok = await model.install(entry());

    expect(ok).toBe(false);
    expect(client.calls).not.toContain('enable my_plugin');
    expect(model.status).toEqual({
      kind: 'error',
      text: "Plugin 'my_plugin' 1.0.0 is already installed."
    });
  });

  it('says so when the install worked but enabling it did not', async () => {
    client.catalog = [entry()];
    client.fail.setEnabled = refused(403, 'Not allowed to enable plugins.');

    const ok = await model.install(entry());

    expect(ok).toBe(false);
    expect(model.status?.kind).toBe('error');
    expect(model.status?.text).toBe(
      'Installed my_plugin 1.0.0, but could not enable it: Not allowed to enable plugins.'
    );
  });

  it('ignores a second click while the first install runs', async () => {
    const first = model.install(entry());
    const second = await model.install(entry());
    await first;

    expect(second).toBe(false);
    expect(client.calls.filter(c => c.startsWith('install '))).toHaveLength(1);
  });

  it('offers an update only when the catalog has a newer version than the active one', () => {
    expect(model.availableUpdate(entry({ latest_version: '1.1.0' }))).toBeNull(); // not installed
    expect(
      model.availableUpdate(
        entry({ latest_version: '1.1.0', installed: true, installed_version: '1.0.0' })
      )
    ).toBe('1.1.0');
    expect(
      model.availableUpdate(
        entry({ latest_version: '1.10.0', installed: true, installed_version: '1.9.0' })
      )
    ).toBe('1.10.0');
    expect(
      model.availableUpdate(
        entry({ latest_version: '1.1.0', installed: true, installed_version: '1.1.0' })
      )
    ).toBeNull();
    expect(
      model.availableUpdate(
        entry({ latest_version: '1.0.0', installed: true, installed_version: '1.1.0' })
      )
    ).toBeNull();
  });

  it('offers the update on the installed list once the catalog has been seen', async () => {
    client.installedPlugins = [plugin()];
    expect(model.updateFor(plugin())).toBeNull();

    client.catalog = [
      entry({ latest_version: '1.1.0', installed: true, installed_version: '1.0.0' })
    ];
    await model.refresh();

    expect(model.updateFor(plugin())).toBe('1.1.0');
    expect(model.updateFor(plugin({ active_version: '1.1.0' }))).toBeNull();
  });

  it('updates a local plugin with `update {}` (the server fetches the new version)', async () => {
    client.catalog = [
      entry({ latest_version: '1.1.0', installed: true, installed_version: '1.0.0' })
    ];
    await model.refresh();

    const calls = await after(client, () => model.update('my_plugin'));

    expect(calls[0]).toBe('update my_plugin');
    expect(model.status).toEqual({ kind: 'info', text: 'Updated my_plugin to 1.1.0.' });
  });

  it('installs the version of a remote marketplace first, then switches to it', async () => {
    client.installedPlugins = [plugin()];
    client.catalog = [
      entry({
        source: 'team-hub',
        latest_version: '2.0.0',
        installed: true,
        installed_version: '1.0.0'
      })
    ];
    await model.refresh();

    const calls = await after(client, () => model.update('my_plugin'));

    expect(calls.slice(0, 2)).toEqual([
      'install my_plugin team-hub 2.0.0',
      'update my_plugin 2.0.0'
    ]);
  });

  it('switches versions with update when newer, rollback when older', async () => {
    const current = plugin({ active_version: '1.1.0', versions: ['1.0.0', '1.1.0', '1.2.0'] });

    expect((await after(client, () => model.switchVersion(current, '1.2.0')))[0]).toBe(
      'update my_plugin 1.2.0'
    );
    expect((await after(client, () => model.switchVersion(current, '1.0.0')))[0]).toBe(
      'rollback my_plugin 1.0.0'
    );
    expect(model.status).toEqual({ kind: 'info', text: 'Rolled back my_plugin to 1.0.0.' });
  });

  it('shows a refusal with the server message, and the list as the server has it', async () => {
    client.installedPlugins = [];
    client.fail.setEnabled = refused(404, "No plugin named 'my_plugin' is installed.");

    const ok = await model.setEnabled(plugin(), true);

    expect(ok).toBe(false);
    expect(model.status).toEqual({
      kind: 'error',
      text: "No plugin named 'my_plugin' is installed."
    });
    expect(model.installed).toEqual([]);
  });

  it('keeps a load failure out of the status line, and clears it on the next load', async () => {
    client.fail.installed = refused(500, 'The plugin store is locked.');

    await model.refreshInstalled();

    expect(model.installedError).toBe('The plugin store is locked.');
    expect(model.status).toBeNull();

    delete client.fail.installed;
    await model.refreshInstalled();
    expect(model.installedError).toBeNull();
    expect(model.installed).toEqual([]);
  });

  it('says the server is unreachable on a network error', async () => {
    client.fail.featured = new ServerConnection.NetworkError(new TypeError('Failed to fetch'));

    await model.search('');

    expect(model.searchError).toBe(
      'Could not reach the Jupyter server; check that it is still running.'
    );
  });

  it('shows a generic sentence, not a stack trace, for a bug', async () => {
    const spy = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    client.fail.uninstall = new TypeError("Cannot read properties of undefined (reading 'x')");

    await model.uninstall(plugin());

    expect(model.status?.text).toBe(
      'Something went wrong in the plugins panel; see the browser console.'
    );
    expect(spy).toHaveBeenCalled();
    spy.mockRestore();
  });

  it('shows only the answer to the newest search', async () => {
    client.catalog = [entry({ name: 'alpha' }), entry({ name: 'beta' })];
    let release: () => void = () => undefined;
    const slow = new Promise<void>(resolve => (release = resolve));
    const search = client.search.bind(client);
    client.search = async (query: string) => {
      if (query === 'alpha') {
        await slow;
      }
      return search(query);
    };

    const older = model.search('alpha');
    await model.search('beta');
    release();
    await older;

    expect(model.resultsQuery).toBe('beta');
    expect(model.results?.map(e => e.name)).toEqual(['beta']);
  });
});
