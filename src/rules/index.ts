/**
 * The rules language: attribute-flow expressions (Microsoft Entra / Connect sync syntax and functions) and
 * scoping filters. Both compile once, when the configuration loads, and evaluate many times.
 */
export type {
  CompiledExpression,
  CompiledScope,
  EvaluationOptions,
  FlowInput,
  ScopeClause,
  ScopeFilter,
} from './types.js';
export {
  ExpressionEvaluationError,
  ExpressionSyntaxError,
  ScopeFilterError,
  type ExpressionEvaluationCode,
  type ExpressionSyntaxCode,
  type ScopeFilterCode,
} from './errors.js';
export { type CompiledFlowExpression, compileExpression } from './expression/compile.js';
export { listFunctions, type FunctionInfo } from './expression/functions/index.js';
export { compileScope, listScopeOperators, readsMetaverse } from './scope/compile-scope.js';
