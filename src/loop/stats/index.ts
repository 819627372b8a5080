/**
 * Statistics for honest evaluation: how much of a backtest's Sharpe ratio survives the
 * number of things tried (DSR), the length and shape of the track record (PSR, MinTRL),
 * and the selection process itself (PBO by CSCV). Pure functions, no I/O.
 */
export {
  binomial,
  blockBounds,
  type CscvOptions,
  type CscvResult,
  probabilityOfBacktestOverfitting,
  sampleCombinations,
} from "./backtest-overfitting.ts";
export {
  type DeflatedSharpeInput,
  type DeflatedSharpeResult,
  deflatedSharpeRatio,
  deflateFromTrialReturns,
  deflateSelection,
  expectedMaxSharpe,
  expectedMaxStandardNormal,
  type SelectionDeflation,
  sampleVariance,
  type TrialSelection,
} from "./deflated-sharpe.ts";
export { averagePairwiseCorrelation, effectiveTrials } from "./effective-trials.ts";
export {
  annualiseSharpe,
  mean,
  pearsonFromExcess,
  pearsonKurtosis,
  perPeriodSharpe,
  perPeriodSharpeVariance,
  type ReturnMoments,
  type Returns,
  returnMoments,
  sampleStdev,
  sharpeFrom,
  sharpeRatio,
  skewness,
} from "./moments.ts";
export {
  EULER_MASCHERONI,
  normalCdf,
  normalPdf,
  normalQuantile,
  normalSurvival,
  normalUpperQuantile,
} from "./normal.ts";
export {
  type MinTrackRecordInput,
  minTrackRecordLength,
  probabilisticSharpeRatio,
  probabilisticSharpeZ,
  type SharpeEstimate,
  sharpeStandardError,
  sharpeVarianceFactor,
} from "./probabilistic-sharpe.ts";
export { parseReturnsCsv, type ReturnsTable } from "./returns-csv.ts";
export { SeededRandom } from "./seeded-random.ts";
export { StatsError } from "./stats-error.ts";
