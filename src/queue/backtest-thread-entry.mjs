// The file BullMQ's sandboxed worker threads import. On Node 20 a worker thread does not inherit
// the tsx loader the process was started with (`--import tsx` in a worker's execArgv is not
// enough either), so this plain-JS entry registers tsx itself, then loads the TypeScript processor.
import { register } from "tsx/esm/api";

register();
const { default: processBacktestJob } = await import("./backtest-thread.ts");

export default processBacktestJob;
