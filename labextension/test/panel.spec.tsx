/**
 * The panel rendered in jsdom over a client double: its JupyterLab blocks (SidePanel toolbar,
 * accordion sections, search field with a label), translated strings, and the states a
 * person sees (lists, update offer, status line, a list that failed to load).
 */
import { ITranslator, nullTranslator, TranslationBundle } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import { DetailsModel } from '../src/details';
import { PluginsModel } from '../src/model';
import { PluginsPanel } from '../src/panel';
import { entry, FakeClient, plugin, refused, run } from './fakes';

/** A translator that marks every string it translates, to see none is left out. */
const marking: ITranslator = {
  languageCode: 'xx',
  load: (): TranslationBundle => {
    const base = nullTranslator.load('omniscope_jupyter');
    const mark =
      (f: (...args: any[]) => string) =>
      (...args: any[]) =>
        `‹${f(...args)}›`;
    return {
      __: mark(base.__.bind(base)),
      _n: mark(base._n.bind(base)),
      _p: mark(base._p.bind(base)),
      _np: mark(base._np.bind(base)),
      gettext: mark(base.gettext.bind(base)),
      ngettext: mark(base.ngettext.bind(base)),
      pgettext: mark(base.pgettext.bind(base)),
      npgettext: mark(base.npgettext.bind(base)),
      dcnpgettext: mark(base.dcnpgettext.bind(base))
    } as TranslationBundle;
  }
};

/** Poll until `probe` finds something (React renders asynchronously). */
async function until<T>(probe: () => T | null | undefined, what: string): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const found = probe();
    if (found) {
      return found;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}`);
    }
    await new Promise(resolve => setTimeout(resolve, 10));
  }
}

function text(node: Element | null): string {
  return (node?.textContent ?? '').trim();
}

describe('PluginsPanel', () => {
  let client: FakeClient;
  let model: PluginsModel;
  let details: DetailsModel;
  let panel: PluginsPanel;

  beforeEach(() => {
    client = new FakeClient();
    model = new PluginsModel({ client, translator: marking });
    details = new DetailsModel({
      client,
      translator: marking,
      messageOf: error => model.messageOf(error)
    });
    panel = new PluginsPanel({ model, details, translator: marking });
    Widget.attach(panel, document.body);
  });

  afterEach(() => {
    panel.dispose();
    details.dispose();
    model.dispose();
  });

  const $ = (selector: string) => panel.node.querySelector(selector);
  const $$ = (selector: string) => Array.from(panel.node.querySelectorAll(selector));

  it('is a SidePanel with a refresh toolbar and three translated sections', async () => {
    expect(panel.node.classList).toContain('jp-SidePanel');
    await until(
      () => $('.jp-SidePanel-toolbar .jp-OmniscopePlugins-refresh'),
      'the refresh button'
    );
    const titles = $$('.jp-AccordionPanel-title').map(text);
    expect(titles).toEqual(['‹Installed›', '‹Marketplace›', '‹Details›']);
    const header = await until(() => $('.jp-OmniscopePlugins-header'), 'the title');
    expect(text(header)).toBe('‹OmniScope plugins›');
  });

  it('has a labelled search field with the search icon', async () => {
    const input = await until(
      () => $('[data-testid="marketplace-view"] .jp-InputGroup input') as HTMLInputElement,
      'the search field'
    );
    expect(input.placeholder).toBe('‹Search plugins›');
    const label = $(`label[for="${input.id}"]`);
    expect(text(label)).toBe('‹Search the plugin marketplace›');
    expect($('.jp-OmniscopePlugins-search .jp-InputGroupAction svg')).not.toBeNull();
  });

  it('lists plugins, offers the update, installs and reports in the status line', async () => {
    client.installedPlugins = [plugin()];
    client.catalog = [
      entry({ latest_version: '1.1.0', installed: true, installed_version: '1.0.0' }),
      entry({ name: 'other', latest_version: '0.3.0' })
    ];
    await model.refresh();

    const update = await until(
      () => $('[data-testid="installed-view"] [data-testid="update"]'),
      'the update offer on the installed row'
    );
    expect(text(update)).toBe('‹Update to 1.1.0›');
    const mine = await until(
      () => $('[data-testid="catalog-plugin"][data-plugin="my_plugin"]'),
      'the marketplace row'
    );
    expect(text(mine.querySelector('[data-testid="installed-version"]'))).toBe(
      '‹Installed 1.0.0›'
    );
    expect(text(mine.querySelector('[data-testid="update"]'))).toBe(
      '‹Update to 1.1.0›'
    );
    const uninstall = $('[data-testid="installed-plugin"] [data-testid="uninstall"]');
    expect(uninstall?.classList).toContain('jp-mod-minimal');

    const install = $(
      '[data-testid="catalog-plugin"][data-plugin="other"] [data-testid="install"]'
    ) as HTMLButtonElement;
    expect(install.tagName).toBe('BUTTON');
    install.click();

    const status = await until(
      () => $('[data-testid="status"].jp-mod-info'),
      'the status line'
    );
    expect(status.getAttribute('role')).toBe('status');
    await until(
      () => text(status).includes('Installed and enabled other 0.3.0.'),
      'the install outcome'
    );
    expect(client.calls).toEqual(expect.arrayContaining(['install other local', 'enable other']));
    expect(client.calls.indexOf('enable other')).toBeGreaterThan(
      client.calls.indexOf('install other local')
    );
  });

  it('shows the empty states', async () => {
    await model.refresh();

    const empty = await until(
      () => $('[data-testid="installed-view"] [data-testid="empty"]'),
      'the empty installed list'
    );
    expect(text(empty)).toBe(
      '‹No plugin is installed yet. Install one from the marketplace below.›'
    );
    // Each section is its own React root: wait for the marketplace's render as well.
    const none = await until(
      () => $('[data-testid="marketplace-view"] [data-testid="empty"]'),
      'the empty marketplace'
    );
    expect(text(none)).toBe('‹No plugin is published yet.›');
  });

  it('shows a list that failed to load with the server message and a retry', async () => {
    client.fail.installed = refused(500, 'The plugin store is locked.');
    await model.refresh();

    const error = await until(
      () => $('[data-testid="installed-view"] [data-testid="load-error"]'),
      'the load error'
    );
    expect(error.getAttribute('role')).toBe('alert');
    expect(text(error.querySelector('.jp-OmniscopePlugins-loadErrorMessage'))).toBe(
      'The plugin store is locked.'
    );

    delete client.fail.installed;
    (error.querySelector('button') as HTMLButtonElement).click();
    await until(
      () => $('[data-testid="installed-view"] [data-testid="empty"]'),
      'the list after the retry'
    );
  });

  it('shows a refusal as an alert with the server message, which can be dismissed', async () => {
    client.catalog = [entry()];
    client.fail.installFromMarketplace = refused(409, "Plugin 'my_plugin' is already installed.");
    await model.refresh();

    const install = await until(
      () => $('[data-testid="install"]') as HTMLButtonElement,
      'the install button'
    );
    install.click();
    const status = await until(() => $('[data-testid="status"].jp-mod-error'), 'the alert');
    expect(status.getAttribute('role')).toBe('alert');
    // The role is set at once, the text when React commits.
    const message = await until(
      () => status.querySelector('.jp-OmniscopePlugins-statusText'),
      'the alert text'
    );
    expect(text(message)).toBe("Plugin 'my_plugin' is already installed.");

    (
      (await until(
        () => status.querySelector('.jp-OmniscopePlugins-dismiss'),
        'the dismiss button'
      )) as HTMLButtonElement
    ).click();
    await until(() => !status.classList.contains('jp-mod-error'), 'the dismissed alert');
    expect(model.status).toBeNull();
  });

  it('shows a plugin\'s runs, scan report, README and reviews, and adds a review', async () => {
    client.installedPlugins = [plugin({ enabled: true })];
    client.findings = [
      { rule_id: 'B602', severity: 'HIGH', confidence: 'HIGH', file: 'p.py', line: 3, message: 'shell' }
    ];
    client.runs = [
      run({ status: 'failed', errors: ['boom'], stdout: 'printed' }),
      run({ execution_id: '89abcdef-0000-4000-8000-000000000000' })
    ];
    await model.refresh();
    const button = await until(() => $('[data-testid="details"]') as HTMLButtonElement, 'Details');
    expect(button.getAttribute('aria-label')).toBe('‹Details of %1›'.replace('%1', 'my_plugin'));
    button.click();
    const rows = await until(() => {
      const found = $$('[data-testid="details-view"] [data-testid="execution"]');
      return found.length === 2 ? found : null;
    }, 'the runs');
    expect(rows[0].getAttribute('data-status')).toBe('failed');
    expect(text($('[data-testid="finding"]'))).toContain('B602');
    // The server's sanitised README is shown as HTML; nothing else is.
    expect($('.jp-OmniscopePlugins-readme h1')?.textContent).toBe('My plugin');
    (rows[0].querySelector('button') as HTMLButtonElement).click();
    const detail = await until(() => $('[data-testid="execution-detail"]'), 'the run');
    expect(text(detail)).toContain('boom');
    expect(text(detail)).toContain('printed');
    expect(client.calls).toContain('execution my_plugin 0123abcd-0000-4000-8000-000000000000');

    const textarea = $('.jp-OmniscopePlugins-reviewText') as HTMLTextAreaElement;
    const setter = Object.getOwnPropertyDescriptor(HTMLTextAreaElement.prototype, 'value')!.set!;
    setter.call(textarea, 'Works well');
    textarea.dispatchEvent(new Event('input', { bubbles: true }));
    const submit = await until(() => {
      const b = $('.jp-OmniscopePlugins-reviewForm button[type="submit"]') as HTMLButtonElement;
      return b && !b.disabled ? b : null;
    }, 'an enabled submit');
    submit.click();
    await until(() => $('[data-testid="review"]'), 'the new review');
    expect(client.calls).toContain('review my_plugin - Works well');
    expect(text($('[data-testid="review"]'))).toContain('Works well');
  });

  it('shows a part that failed with its error, the others still load', async () => {
    client.fail.scanReport = refused(404, 'no scan report for my_plugin');
    await details.show('my_plugin');
    const error = await until(() => $('[data-testid="scan"] [data-testid="load-error"]'), 'the error');
    expect(text(error)).toContain('no scan report for my_plugin');
    expect($('.jp-OmniscopePlugins-readme')).not.toBeNull();
  });
});
