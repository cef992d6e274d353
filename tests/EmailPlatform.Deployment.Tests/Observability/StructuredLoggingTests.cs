using System.Diagnostics;
using EmailPlatform.ServiceDefaults;
using EmailPlatform.ServiceDefaults.Telemetry;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;
using Microsoft.Extensions.Options;

namespace EmailPlatform.Deployment.Tests;

/// <summary>
/// What operators rely on when they turn on <c>Logging:Console:FormatterName=json</c> (the chart's default) or
/// OTLP: every entry carries the trace id and the email id of the work it belongs to.
/// </summary>
public sealed class StructuredLoggingTests
{
    [Fact]
    public void EveryLogEntryCarriesTheTraceIdAndTheEmailIdOfItsWork()
    {
        var capture = new ScopeCapture();
        using var host = Build(new Dictionary<string, string?>(), capture);
        var logger = host.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Test");

        using var source = new ActivitySource("EmailPlatform.Test");
        using var listener = new ActivityListener
        {
            ShouldListenTo = s => s == source,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
        };
        ActivitySource.AddActivityListener(listener);

        var emailId = Guid.CreateVersion7();
        using (var accept = source.StartActivity("accept"))
        {
            EmailTelemetry.SetEmailId(accept, emailId);
            using var send = source.StartActivity("send");
            logger.LogInformation("sending");

            var scope = capture.Scopes.Single();
            Assert.Equal(send!.TraceId.ToString(), scope["TraceId"]);
            Assert.Equal(send.SpanId.ToString(), scope["SpanId"]);
            Assert.Equal(emailId.ToString(), scope[EmailTelemetry.EmailIdKey]);
        }
    }

    [Fact]
    public void JsonConsoleLogsIncludeScopesUnlessConfiguredOtherwise()
    {
        using (var host = Build(new Dictionary<string, string?> { ["Logging:Console:FormatterName"] = "json" }))
        {
            Assert.True(host.Services.GetRequiredService<IOptionsMonitor<JsonConsoleFormatterOptions>>().CurrentValue.IncludeScopes);
        }

        using (var host = Build(new Dictionary<string, string?> { ["Logging:Console:FormatterOptions:IncludeScopes"] = "false" }))
        {
            Assert.False(host.Services.GetRequiredService<IOptionsMonitor<JsonConsoleFormatterOptions>>().CurrentValue.IncludeScopes);
        }
    }

    [Theory]
    [InlineData("System.Net.Http.HttpClient.suppressions.LogicalHandler", "System.Net.Http.HttpClient")]
    [InlineData("Microsoft.AspNetCore.Hosting.Diagnostics", "Microsoft.AspNetCore")]
    [InlineData("Microsoft.EntityFrameworkCore.Database.Command", "Microsoft.EntityFrameworkCore")]
    public void PerRequestLogsAreOffUnlessConfigured(string category, string configured)
    {
        using (var host = Build(new Dictionary<string, string?> { ["Logging:LogLevel:Default"] = "Debug" }))
        {
            var logger = host.Services.GetRequiredService<ILoggerFactory>().CreateLogger(category);
            Assert.False(logger.IsEnabled(LogLevel.Information));
            Assert.True(logger.IsEnabled(LogLevel.Warning));
            Assert.True(host.Services.GetRequiredService<ILoggerFactory>().CreateLogger("EmailPlatform.Delivery").IsEnabled(LogLevel.Debug));
        }

        using (var host = Build(new Dictionary<string, string?> { [$"Logging:LogLevel:{configured}"] = "Information" }))
        {
            Assert.True(host.Services.GetRequiredService<ILoggerFactory>().CreateLogger(category).IsEnabled(LogLevel.Information));
        }
    }

    private static IHost Build(Dictionary<string, string?> settings, ILoggerProvider? provider = null)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { ApplicationName = "EmailPlatform.Test", DisableDefaults = false });
        builder.Configuration.AddInMemoryCollection(settings);
        builder.AddServiceDefaults();
        if (provider is not null)
        {
            builder.Logging.AddProvider(provider);
        }

        return builder.Build();
    }

    /// <summary>A logger provider that records the scope values each entry would be written with.</summary>
    private sealed class ScopeCapture : ILoggerProvider, ISupportExternalScope, ILogger
    {
        private IExternalScopeProvider? _scopes;

        public List<Dictionary<string, string?>> Scopes { get; } = [];

        public void SetScopeProvider(IExternalScopeProvider scopeProvider) => _scopes = scopeProvider;

        public ILogger CreateLogger(string categoryName) => this;

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => _scopes?.Push(state);

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var values = new Dictionary<string, string?>();
            _scopes?.ForEachScope((scope, all) =>
            {
                if (scope is IEnumerable<KeyValuePair<string, object?>> pairs)
                {
                    foreach (var (key, value) in pairs)
                    {
                        all[key] = value?.ToString();
                    }
                }
                else if (scope is IEnumerable<KeyValuePair<string, string?>> strings)
                {
                    foreach (var (key, value) in strings)
                    {
                        all[key] = value;
                    }
                }
            }, values);
            Scopes.Add(values);
        }

        public void Dispose()
        {
        }
    }
}
