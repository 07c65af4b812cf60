import ace from '@adonisjs/core/services/ace'

/**
 * Runs an ace command in this process as an operator would (the ace UI in
 * raw mode must be on: `ace.ui.switchMode('raw')`), with its output
 * captured.
 */
export async function runCommand(command: string, argv: string[] = []) {
  ace.ui.logger.flushLogs()
  const instance = await ace.exec(command, argv)
  // Raw mode tags each line with its level ("[ red(error) ] ..."); drop the tag.
  const logs = ace.ui.logger
    .getLogs()
    .map((log) => ({ ...log, message: log.message.replace(/^\[ \w+\(\w+\) \] /, '') }))
  return {
    exitCode: instance.exitCode,
    output: logs.map((log) => log.message).join('\n'),
    stdout: logs.filter((log) => log.stream === 'stdout').map((log) => log.message),
    errors: logs.filter((log) => log.stream === 'stderr').map((log) => log.message),
  }
}
