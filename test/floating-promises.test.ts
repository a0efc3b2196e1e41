// The metadata interface is asynchronous: a call whose promise nobody awaits runs out of order
// (a write after the response was sent, a rejection that crashes the process), and a promise
// used as a truth value is always true. The compiler catches neither, so this test reads src/
// with the type checker and names every such place:
//   - an expression statement whose value is a promise (await it, return it, or mark it `void`
//     where running on its own is meant);
//   - a promise-returning function passed where a callback returning void is expected
//     (forEach(async ...), an event listener): its rejections go nowhere;
//   - a promise as the operand of `!`, `&&`, `||` or the condition of `?:`.

import t from 'tap'
import { join } from 'node:path'
import ts from 'typescript'
import { PACKAGE_ROOT } from '../src/paths.js'

/** A Promise (Fastify's reply is thenable too, but chaining its setters is not a promise left behind). */
function isPromise(type: ts.Type, every = false): boolean {
  if (type.isUnion()) return every ? type.types.every((part) => isPromise(part)) : type.types.some((part) => isPromise(part))
  return type.getSymbol()?.getName() === 'Promise'
}

/** Handled where it stands: `.catch(f)`, `.then(f, g)`, or an assignment that keeps it. */
function isHandled(node: ts.Expression): boolean {
  if (ts.isBinaryExpression(node) && node.operatorToken.kind >= ts.SyntaxKind.FirstAssignment && node.operatorToken.kind <= ts.SyntaxKind.LastAssignment) return true
  if (!ts.isCallExpression(node) || !ts.isPropertyAccessExpression(node.expression)) return false
  const method = node.expression.name.text
  return method === 'catch' || (method === 'then' && node.arguments.length === 2)
}

function expectsVoidCallback(checker: ts.TypeChecker, fn: ts.Expression, call: ts.CallExpression | ts.NewExpression): boolean {
  // Fastify's register takes async plugins through generic overloads the checker resolves to the callback form.
  if (ts.isPropertyAccessExpression(call.expression) && call.expression.name.text === 'register') return false
  const resolved = checker.getResolvedSignature(call)
  const index = call.arguments?.indexOf(fn) ?? -1
  const parameter = resolved?.getParameters()[Math.min(index, (resolved?.getParameters().length ?? 1) - 1)]
  if (!parameter) return false
  const type = checker.getTypeOfSymbol(parameter).getNonNullableType()
  const signatures = (type.isUnion() ? type.types : [type]).flatMap((part) => part.getCallSignatures())
  return signatures.length > 0 && signatures.every((s) => (checker.getReturnTypeOfSignature(s).flags & ts.TypeFlags.Void) !== 0)
}

function findUnhandled(): string[] {
  const configPath = join(PACKAGE_ROOT, 'tsconfig.json')
  const config = ts.getParsedCommandLineOfConfigFile(configPath, {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} })
  if (!config) throw new Error('tsconfig.json cannot be read')
  const sources = config.fileNames.filter((f) => f.startsWith(join(PACKAGE_ROOT, 'src') + '/'))
  const program = ts.createProgram(sources, config.options)
  const checker = program.getTypeChecker()
  const found: string[] = []
  for (const file of program.getSourceFiles()) {
    if (!sources.includes(file.fileName)) continue
    const report = (node: ts.Node, what: string) => {
      const { line } = file.getLineAndCharacterOfPosition(node.getStart(file))
      found.push(`${file.fileName.slice(PACKAGE_ROOT.length + 1)}:${line + 1}: ${what}: ${node.getText(file).slice(0, 80)}`)
    }
    const promise = (node: ts.Expression) => isPromise(checker.getTypeAtLocation(node))
    const alwaysPromise = (node: ts.Expression) => isPromise(checker.getTypeAtLocation(node), true)
    const visit = (node: ts.Node): void => {
      if (ts.isExpressionStatement(node) && !ts.isVoidExpression(node.expression) && !ts.isAwaitExpression(node.expression) && !isHandled(node.expression) && promise(node.expression)) {
        report(node, 'promise not awaited')
      } else if ((ts.isArrowFunction(node) || ts.isFunctionExpression(node)) && ts.isCallOrNewExpression(node.parent) && node.parent.arguments?.includes(node)) {
        const signature = checker.getSignatureFromDeclaration(node)
        if (signature && isPromise(checker.getReturnTypeOfSignature(signature)) && expectsVoidCallback(checker, node, node.parent)) report(node, 'async callback where void is expected')
      } else if (ts.isPrefixUnaryExpression(node) && node.operator === ts.SyntaxKind.ExclamationToken && alwaysPromise(node.operand)) {
        report(node, 'promise as a truth value')
      } else if (ts.isBinaryExpression(node) && (node.operatorToken.kind === ts.SyntaxKind.AmpersandAmpersandToken || node.operatorToken.kind === ts.SyntaxKind.BarBarToken) && alwaysPromise(node.left)) {
        report(node, 'promise as a truth value')
      } else if (ts.isConditionalExpression(node) && alwaysPromise(node.condition)) {
        report(node, 'promise as a truth value')
      }
      ts.forEachChild(node, visit)
    }
    visit(file)
  }
  return found
}

t.test('every promise in src/ is awaited, returned or deliberately left to run', async (t) => {
  const found = findUnhandled()
  t.same(found, [], found.join('\n'))
})
