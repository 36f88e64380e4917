/**
 * The panel's icon in the left side bar: a plug (plugins), unlike the puzzle piece of
 * JupyterLab's own extension manager next to it.
 */
import { LabIcon } from '@jupyterlab/ui-components';

const svgstr = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
  <path class="jp-icon3" fill="#616161" d="M16.01 7 16 3h-2v4h-4V3H8v4h-.01C7 6.99 6 7.99 6 8.99v5.49L9.5 18v3h5v-3l3.5-3.51v-5.5c0-1-1-2-1.99-1.99z"/>
</svg>`;

export const pluginsIcon = new LabIcon({ name: 'omniscope-jupyter:plugins', svgstr });
