using System.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Configuration.Memory;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace EmailPlatform.ServiceDefaults.Telemetry;

internal static class TelemetryExtensions
{
    /// <summary>ActivitySource and Meter names of our own code all start with this.</summary>
    private const string OwnSources = "EmailPlatform.*";

    public static IHostApplicationBuilder AddTelemetry(this IHostApplicationBuilder builder)
    {
        builder.AddStructuredLogging();
        builder.Logging.AddOpenTelemetry(logging =>
        {
            logging.IncludeFormattedMessage = true;
            logging.IncludeScopes = true;
        });

        var otel = builder.Services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService(builder.Environment.ApplicationName))
            .WithMetrics(metrics => metrics
                .AddAspNetCoreInstrumentation()
                .AddHttpClientInstrumentation()
                .AddRuntimeInstrumentation()
                .AddMeter("MassTransit", OwnSources)
                .AddPrometheusExporter())
            .WithTracing(tracing => tracing
                .AddProcessor(new EmailIdSpanProcessor())
                .AddSource("MassTransit", OwnSources)
                .AddAspNetCoreInstrumentation(o =>
                {
                    o.Filter = IsNotInfrastructure;
                    o.EnrichWithHttpRequest = (activity, _) => RedactAddresses(activity, "url.path");
                })
                .AddHttpClientInstrumentation(o => o.EnrichWithHttpRequestMessage = (activity, _) => RedactAddresses(activity, "url.full")));

        if (!string.IsNullOrWhiteSpace(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]))
        {
            otel.UseOtlpExporter();
        }

        return builder;
    }

    /// <summary>
    /// Every log entry carries the trace and span ids of the work it belongs to and the email id from its W3C baggage
    /// (<see cref="EmailTelemetry.EmailIdKey"/>), but no other baggage and no email address (<see cref="LogScopes"/>):
    /// as scope values in the JSON console format (<c>Logging:Console:FormatterName=json</c>, where scopes are on unless
    /// <c>Logging:Console:FormatterOptions:IncludeScopes</c> says otherwise) and as attributes over OTLP.
    /// Per-request logs of ASP.NET Core and HttpClient and EF Core's per-command logs stay below Warning unless
    /// configured: traces cover them, and request logs name each URL (the suppression lookups carry a recipient
    /// address in theirs).
    /// </summary>
    private static void AddStructuredLogging(this IHostApplicationBuilder builder)
    {
        // First source, so appsettings and the environment override it.
        builder.Configuration.Sources.Insert(0, new MemoryConfigurationSource
        {
            InitialData = new Dictionary<string, string?>
            {
                ["Logging:LogLevel:Microsoft.AspNetCore"] = "Warning",
                ["Logging:LogLevel:Microsoft.EntityFrameworkCore"] = "Warning",
                ["Logging:LogLevel:System.Net.Http.HttpClient"] = "Warning",
            },
        });

        // The trace ids, the email id and no other baggage, and no address (see LogScopes); this takes the place of
        // ActivityTrackingOptions, which the logger factory ignores once a scope provider is registered.
        builder.Services.AddSingleton<IExternalScopeProvider, LogScopes>();

        // Scopes default to on for JSON; the configuration section is bound again afterwards so that it still wins.
        builder.Services.Configure<JsonConsoleFormatterOptions>(o => o.IncludeScopes = true);
        builder.Services.Configure<JsonConsoleFormatterOptions>(builder.Configuration.GetSection("Logging:Console:FormatterOptions"));
    }

    private static void RedactAddresses(Activity activity, string tag)
    {
        if (activity.GetTagItem(tag) is string url)
        {
            activity.SetTag(tag, EmailTelemetry.RedactAddresses(url));
        }
    }

    private static bool IsNotInfrastructure(HttpContext context) =>
        !context.Request.Path.StartsWithSegments("/health") && !context.Request.Path.StartsWithSegments("/metrics");
}
