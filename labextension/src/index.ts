/**
 * omniscope-jupyter: a left side panel "OmniScope plugins" to browse the OmniScope plugin
 * marketplace and manage installed plugins through the server extension's REST API.
 */
import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';

import { PluginsClient } from './api';
import { DetailsModel } from './details';
import { pluginsIcon } from './icon';
import { PluginsModel } from './model';
import { PluginsPanel } from './panel';

/** The command that opens the panel (also in the command palette). */
export const OPEN_COMMAND = 'omniscope:open-plugins';
/** Reload the panel's lists (and the plugin shown in Details). */
export const REFRESH_COMMAND = 'omniscope:refresh-plugins';
/** Open the panel on its Details section (README, scan report, reviews, runs). */
export const DETAILS_COMMAND = 'omniscope:plugin-details';

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'omniscope-jupyter:plugins',
  description: 'A side panel to browse the OmniScope plugin marketplace and manage plugins.',
  autoStart: true,
  optional: [ILayoutRestorer, ICommandPalette, ITranslator],
  activate: (
    app: JupyterFrontEnd,
    restorer: ILayoutRestorer | null,
    palette: ICommandPalette | null,
    translator: ITranslator | null
  ) => {
    translator = translator ?? nullTranslator;
    const trans = translator.load('omniscope_jupyter');
    const client = new PluginsClient({
      serverSettings: app.serviceManager.serverSettings,
      translator
    });
    const model = new PluginsModel({ client, translator });
    const details = new DetailsModel({
      client,
      translator,
      messageOf: error => model.messageOf(error)
    });
    const panel = new PluginsPanel({ model, details, translator });
    panel.title.icon = pluginsIcon;
    app.shell.add(panel, 'left', { rank: 900 });
    restorer?.add(panel, panel.id);

    app.commands.addCommand(OPEN_COMMAND, {
      // The palette hides categories in its search results: its label names OmniScope
      // ("Use Theme: …" style); menus and other callers get a sentence.
      label: args =>
        args.isPalette
          ? trans.__('OmniScope: Open plugins panel')
          : trans.__('Open OmniScope plugins panel'),
      caption: trans.__(
        'Browse the OmniScope plugin marketplace and manage installed plugins'
      ),
      icon: args => (args.isPalette ? undefined : pluginsIcon),
      execute: () => app.shell.activateById(panel.id)
    });
    app.commands.addCommand(REFRESH_COMMAND, {
      label: trans.__('OmniScope: Refresh plugins'),
      caption: trans.__('Reload the installed plugins, the marketplace and the plugin details'),
      execute: async () => {
        await Promise.all([model.refresh(), details.refresh()]);
      }
    });
    app.commands.addCommand(DETAILS_COMMAND, {
      label: trans.__('OmniScope: Plugin details and runs'),
      caption: trans.__(
        "A plugin's README, scan report, reviews and execution history (pick it with its Details button)"
      ),
      execute: () => {
        app.shell.activateById(panel.id);
        panel.openDetails();
      }
    });
    for (const command of [OPEN_COMMAND, REFRESH_COMMAND, DETAILS_COMMAND]) {
      palette?.addItem({ command, category: trans.__('OmniScope'), args: { isPalette: true } });
    }
  }
};

export default plugin;
