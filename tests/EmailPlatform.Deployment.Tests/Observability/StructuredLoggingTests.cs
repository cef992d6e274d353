using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using EmailPlatform.ServiceDefaults;
using EmailPlatform.ServiceDefaults.Telemetry;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Console;
using Microsoft.Extensions.Options;

namespace EmailPlatform.Deployment.Tests;

/// <summary>
/// What operators rely on when they turn on <c>Logging:Console:FormatterName=json</c> (the chart's default) or
/// OTLP: every entry carries the trace id and the email id of the work it belongs to.
/// </summary>
[Collection(HttpServerTests.Name)]
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
    public async Task ALogLineWrittenDuringARequestToAnAddressRouteNamesNoAddressAndNoBaggageButTheEmailId()
    {
        var capture = new JsonConsoleCapture();
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { ApplicationName = "EmailPlatform.Test" });
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["Logging:Console:FormatterName"] = ConsoleFormatterNames.Json });
        builder.AddServiceDefaults();
        builder.Logging.AddProvider(capture);
        await using var app = builder.Build();
        capture.Formatter = app.Services.GetServices<ConsoleFormatter>().Single(f => f.Name == ConsoleFormatterNames.Json);
        app.MapGet("/v1/suppressions/{address}", (string address, ILoggerFactory loggers) =>
        {
            // What EF Core writes for each suppression lookup while PostgreSQL restarts.
            loggers.CreateLogger("Microsoft.EntityFrameworkCore.Database.Connection")
                .LogError("An error occurred using the connection to database 'emailplatform' on server 'postgres'.");
            return Results.NotFound();
        });
        await app.StartAsync();

        var emailId = Guid.CreateVersion7();
        using (var client = new HttpClient())
        using (var request = new HttpRequestMessage(HttpMethod.Get, new Uri($"{app.Urls.Single()}/v1/suppressions/alice@example.com")))
        {
            // Any client may send baggage; only the email id is for the logs.
            request.Headers.Add("baggage", $"{EmailTelemetry.EmailIdKey}={emailId},note=bob%40example.com,tenant=acme-corp");
            using var response = await client.SendAsync(request);
            Assert.Equal(System.Net.HttpStatusCode.NotFound, response.StatusCode);
        }

        await app.StopAsync();

        var line = Assert.Single(capture.Lines, l => l.Contains("An error occurred using the connection", StringComparison.Ordinal));
        Assert.DoesNotContain("example.com", line, StringComparison.Ordinal);
        Assert.DoesNotContain("acme-corp", line, StringComparison.Ordinal);
        using var json = JsonDocument.Parse(line);
        var scopes = json.RootElement.GetProperty("Scopes").EnumerateArray().Where(s => s.ValueKind == JsonValueKind.Object).ToList();
        var trace = Assert.Single(scopes, s => s.TryGetProperty("TraceId", out _));
        Assert.Matches("^[0-9a-f]{32}$", trace.GetProperty("TraceId").GetString());
        Assert.Matches("^[0-9a-f]{16}$", trace.GetProperty("SpanId").GetString());
        Assert.Equal(emailId.ToString(), trace.GetProperty(EmailTelemetry.EmailIdKey).GetString());
        var request2 = Assert.Single(scopes, s => s.TryGetProperty("RequestPath", out _));
        Assert.Equal("/v1/suppressions/{address}", request2.GetProperty("RequestPath").GetString());
        Assert.True(request2.TryGetProperty("RequestId", out _));
    }

    [Theory]
    [InlineData("HTTP GET http://status:8080/v1/suppressions/alice%40example.com", "HTTP GET http://status:8080/v1/suppressions/{address}")]
    [InlineData("RequestPath:/v1/recipients/Alice@Example.com RequestId:0HN1", "RequestPath:/v1/recipients/{address} RequestId:0HN1")]
    [InlineData("mailto:bob+tag@example.org, carol@example.net", "mailto:{address}, {address}")]
    [InlineData("RequestPath:/v1/emails/0196f3a2 RequestId:0HN1", "RequestPath:/v1/emails/0196f3a2 RequestId:0HN1")]
    public void AddressesInScopeTextAreReplaced(string scope, string expected)
    {
        using var host = Build(new Dictionary<string, string?>());
        var scopes = host.Services.GetRequiredService<IExternalScopeProvider>();
        var written = new List<string?>();

        using (scopes.Push(scope))
        {
            scopes.ForEachScope((s, all) => all.Add(Convert.ToString(s, System.Globalization.CultureInfo.InvariantCulture)), written);
        }

        Assert.Equal(expected, Assert.Single(written));
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

    /// <summary>A logger provider that records each entry as the JSON console format writes it (<see cref="Formatter"/>, once set).</summary>
    private sealed class JsonConsoleCapture : ILoggerProvider, ISupportExternalScope, ILogger
    {
        private IExternalScopeProvider? _scopes;

        public ConsoleFormatter? Formatter { get; set; }

        public ConcurrentQueue<string> Lines { get; } = new();

        public void SetScopeProvider(IExternalScopeProvider scopeProvider) => _scopes = scopeProvider;

        public ILogger CreateLogger(string categoryName) => new Category(this, categoryName);

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => _scopes?.Push(state);

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Write("", logLevel, eventId, state, exception, formatter);

        private void Write<TState>(string category, LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (Formatter is not { } json)
            {
                return;
            }

            using var writer = new StringWriter();
            json.Write(new LogEntry<TState>(logLevel, category, eventId, state, exception, formatter), _scopes, writer);
            Lines.Enqueue(writer.ToString());
        }

        public void Dispose()
        {
        }

        private sealed class Category(JsonConsoleCapture capture, string name) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => capture.BeginScope(state);

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                capture.Write(name, logLevel, eventId, state, exception, formatter);
        }
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
