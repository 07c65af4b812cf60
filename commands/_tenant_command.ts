import { BaseCommand } from '@adonisjs/core/ace'
import type { CommandOptions } from '@adonisjs/core/types/ace'
import { errors as vineErrors } from '@vinejs/vine'
import { TenantNotFoundException } from '#exceptions/tenancy'
import { parseId } from '#helpers/ids'
import type { MigrationProgress, TenantFailure } from '#tenancy/tenant_migrator'

/**
 * An operator mistake (bad argument, refused action): printed as one line,
 * exit code 1, no stack trace.
 */
export class CommandError extends Error {}

/**
 * Base of the `tenants:*` commands: boots the application, parses tenant
 * ids, reports operator errors as one line with a non-zero exit code.
 */
export abstract class TenantCommand extends BaseCommand {
  static options: CommandOptions = { startApp: true }

  protected parseTenant(value: string): number {
    const id = parseId(value)
    if (id === null) {
      throw new CommandError(`Invalid tenant id "${value}": expected a positive integer`)
    }
    return id
  }

  /**
   * True on a terminal, false when output is piped or captured (tests).
   */
  protected interactive(): boolean {
    const capturing = this.logger.getRenderer().constructor.name === 'MemoryRenderer'
    return process.stdout.isTTY === true && !capturing
  }

  protected reportFailures(failures: TenantFailure[]) {
    for (const failure of failures) {
      const code = failure.code ? ` [${failure.code}]` : ''
      this.logger.error(`tenant ${failure.tenantId} (${failure.schema}): ${failure.message}${code}`)
    }
  }

  /**
   * Progress of a run over many tenants: a bar redrawn in place on a
   * terminal; otherwise (logs, CI) a line at every tenth of the run and at
   * least every 10 seconds.
   */
  protected progress(verb: string, unit = 'tenants') {
    const interactive = this.interactive()
    let drawn = false
    let lastDraw = 0
    let lastTenth = 0
    let lastLine = Date.now()
    return {
      onProgress: ({ done, total, failed }: MigrationProgress) => {
        const now = Date.now()
        const failures = failed ? `, ${failed} failed` : ''
        if (interactive) {
          if (done < total && now - lastDraw < 100) return
          lastDraw = now
          drawn = true
          const width = 30
          const filled = total === 0 ? width : Math.round((done / total) * width)
          const bar = `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`
          this.logger.logUpdate(`${bar} ${done}/${total} ${unit} ${verb}${failures}`)
          return
        }
        const tenth = total === 0 ? 10 : Math.floor((done * 10) / total)
        if (done === total || tenth > lastTenth || now - lastLine >= 10_000) {
          lastTenth = tenth
          lastLine = now
          this.logger.info(`${done}/${total} ${unit} ${verb}${failures}`)
        }
      },
      finish: () => {
        if (drawn) this.logger.logUpdatePersist()
      },
    }
  }

  async completed() {
    const error = this.error
    if (error === undefined) return false
    // Imported only when a command failed: they pull in the exporter, the
    // importer and the provisioner, which most commands never load.
    const [{ ArchiveError }, { ImportConflictError }] = await Promise.all([
      import('#tenancy/tenant_archive'),
      import('#tenancy/tenant_importer'),
    ])
    if (error instanceof vineErrors.E_VALIDATION_ERROR) {
      for (const message of error.messages as { message: string }[]) {
        this.logger.error(message.message)
      }
    } else if (
      error instanceof CommandError ||
      error instanceof TenantNotFoundException ||
      error instanceof ArchiveError ||
      error instanceof ImportConflictError ||
      error instanceof RangeError
    ) {
      this.logger.error(error.message)
    } else {
      return false
    }
    this.exitCode = 1
    return true
  }
}
