// The one winston logger of a process, built here and passed down. Logs go to stderr so stdout
// stays free for program output.
import winston from 'winston';

export function createLogger(level: string, format: 'text' | 'json'): winston.Logger {
  const text = winston.format.printf((info) => {
    const { level: lvl, message, timestamp, component, ...fields } = info;
    const scope = typeof component === 'string' ? ` [${component}]` : '';
    const extra = Object.keys(fields).length > 0 ? ` ${JSON.stringify(fields)}` : '';
    return `${String(timestamp)} ${lvl}${scope} ${String(message)}${extra}`;
  });
  return winston.createLogger({
    level,
    format: winston.format.combine(winston.format.timestamp(), format === 'json' ? winston.format.json() : text),
    // eslint-disable-next-line @typescript-eslint/no-unsafe-class-instance-assignment -- winston's own transport class
    transports: [new winston.transports.Console({ stderrLevels: ['error', 'warn', 'info', 'debug'] })],
  });
}
