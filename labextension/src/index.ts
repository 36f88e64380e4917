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

import { PluginsClient } from './api';
import { pluginsIcon } from './icon';
import { PluginsPanel } from './panel';

const COMMAND = 'omniscope:open-plugins';

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'omniscope-jupyter:plugins',
  description: 'A side panel to browse the OmniScope plugin marketplace and manage plugins.',
  autoStart: true,
  optional: [ILayoutRestorer, ICommandPalette],
  activate: (
    app: JupyterFrontEnd,
    restorer: ILayoutRestorer | null,
    palette: ICommandPalette | null
  ) => {
    const panel = new PluginsPanel(new PluginsClient(app.serviceManager.serverSettings));
    panel.title.icon = pluginsIcon;
    app.shell.add(panel, 'left', { rank: 900 });
    restorer?.add(panel, panel.id);

    app.commands.addCommand(COMMAND, {
      label: 'Open OmniScope Plugins',
      caption: 'Browse the OmniScope plugin marketplace and manage installed plugins',
      execute: () => app.shell.activateById(panel.id)
    });
    palette?.addItem({ command: COMMAND, category: 'OmniScope' });
  }
};

export default plugin;
