// Registers the chart.js parts the app draws with (tree-shaken: only these are bundled) and shared defaults.
import { BarElement, CategoryScale, Chart, Filler, Legend, LinearScale, LineElement, PointElement, Tooltip } from 'chart.js';

Chart.register(CategoryScale, LinearScale, PointElement, LineElement, BarElement, Filler, Legend, Tooltip);
Chart.defaults.font.family = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";
Chart.defaults.color = '#55606b';
Chart.defaults.animation = false;
Chart.defaults.maintainAspectRatio = false;

export const MiB = 2 ** 20;
