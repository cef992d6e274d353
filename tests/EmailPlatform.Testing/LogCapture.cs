using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace EmailPlatform.Testing;

/// <summary>
/// Every log entry of a host, by event id: what a test waits for when a service's only sign that it reached a point
/// (a send held back at shutdown, a publish that failed, …) is the line it logs there.
/// </summary>
public sealed class LogCapture : ILoggerProvider, ILogger
{
    public ConcurrentQueue<(LogLevel Level, int Id, string Message, Exception? Exception)> Entries { get; } = new();

    /// <summary>Whether an entry of event <paramref name="id"/> was logged whose message contains <paramref name="text"/>.</summary>
    public bool Has(int id, string text) => Entries.Any(e => e.Id == id && e.Message.Contains(text, StringComparison.Ordinal));

    public ILogger CreateLogger(string categoryName) => this;

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
        Entries.Enqueue((logLevel, eventId.Id, formatter(state, exception), exception));

    public void Dispose()
    {
    }
}
