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
import { pluginsIcon } from './icon';
import { PluginsModel } from './model';
import { PluginsPanel } from './panel';

/** The command that opens the panel (also in the command palette). */
export const OPEN_COMMAND = 'omniscope:open-plugins';

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
    const panel = new PluginsPanel({ model, translator });
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
    palette?.addItem({
      command: OPEN_COMMAND,
      category: trans.__('OmniScope'),
      args: { isPalette: true }
    });
  }
};

export default plugin;
