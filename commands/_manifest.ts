import { readFile } from 'node:fs/promises'
import type { CommandMetaData } from '@adonisjs/core/types/ace'

/**
 * Ace loader of the application's commands from the index the build writes
 * next to them (`build/commands/commands.json`, bin/commands_index.ts).
 *
 * Without it, Ace imports every file of `commands/` to read its metadata,
 * and with them bullmq, ioredis, prom-client, the provisioner and the
 * exporter, before it runs any command: most of a no-op
 * `tenants:migrate`'s start. With it, a command's file is imported only
 * when that command runs, and Ace's own directory loader stays idle (it
 * scans `commands/` only for a command no earlier loader knows).
 *
 * In the sources (`node ace`) there is no index: this loader knows no
 * command and the directory loader reads them all, as before.
 */
interface IndexedCommand extends CommandMetaData {
  filePath: string
}

let indexed: Promise<IndexedCommand[]> | undefined

async function readIndex(): Promise<IndexedCommand[]> {
  try {
    const text = await readFile(new URL('./commands.json', import.meta.url), 'utf-8')
    return (JSON.parse(text) as { commands: IndexedCommand[] }).commands
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw error
  }
}

export function getMetaData(): Promise<IndexedCommand[]> {
  indexed ??= readIndex()
  return indexed
}

export async function getCommand(metaData: CommandMetaData) {
  const commands = await getMetaData()
  const command = commands.find(({ commandName }) => commandName === metaData.commandName)
  if (!command) return null
  const module = await import(new URL(command.filePath, import.meta.url).href)
  return module.default
}
