using EmailPlatform.ServiceDefaults.Authentication;
using EmailPlatform.ServiceDefaults.Storage;
using EmailPlatform.Status.Bounces;
using EmailPlatform.Status.Complaints;
using EmailPlatform.Status.Bulk;
using EmailPlatform.Status.Reads;
using EmailPlatform.Status.Recording;
using EmailPlatform.Status.Retention;
using EmailPlatform.Status.Storage;
using EmailPlatform.Status.Suppressions;
using EmailPlatform.Status.Webhooks;
using MassTransit;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace EmailPlatform.Status;

public static class StatusExtensions
{
    /// <summary>The status store, the recorder behind the consumers and the read API.</summary>
    public static IHostApplicationBuilder AddStatus(this IHostApplicationBuilder builder)
    {
        builder.AddApiKeyAuthentication();
        builder.AddStore<StatusDbContext, PostgresStatusDbContext, SqliteStatusDbContext>(StatusDbContext.MigrationsHistoryTable);
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddScoped<StatusRecorder>();
        builder.Services.AddOptions<RecordingOptions>()
            .BindConfiguration(RecordingOptions.SectionName)
            .Validate(o => o.MaxBatchSize is > 0 and <= 5000, "Status:Recording:MaxBatchSize must be between 1 and 5000.")
            .Validate(o => o.MaxBatchDelay >= TimeSpan.Zero && o.MaxBatchDelay <= TimeSpan.FromSeconds(1), "Status:Recording:MaxBatchDelay must be between 0 and 1 second.")
            .Validate(o => o.ConcurrentMessageLimit is > 0 and <= 10000, "Status:Recording:ConcurrentMessageLimit must be between 1 and 10000.")
            .ValidateOnStart();
        builder.Services.AddSingleton<RecordingMetrics>();
        builder.Services.AddSingleton<StatusEventWriter>();
        builder.Services.AddWebhooks();
        builder.Services.AddOptions<SuppressionOptions>()
            .BindConfiguration(SuppressionOptions.SectionName)
            .Validate(o => o.Codes.All(c => System.Text.RegularExpressions.Regex.IsMatch(c, @"^5\.\d{1,3}(\.\d{1,3})?$")),
                "Status:Suppression:HardBounceCodes must hold enhanced codes of class 5 such as 5.1.1 or 5.1.")
            .ValidateOnStart();
        builder.Services.AddScoped<AutoSuppression>();
        builder.Services.AddSingleton<SuppressionFilters>();
        builder.Services.AddOptions<RetentionOptions>()
            .BindConfiguration(RetentionOptions.SectionName)
            .Validate(o => o.BodiesAfter > TimeSpan.Zero && o.EventsAfter > TimeSpan.Zero, "Status:Retention:BodiesAfter and Status:Retention:EventsAfter must be positive.")
            .Validate(o => o.Interval > TimeSpan.Zero && o.BatchSize > 0, "Status:Retention:Interval and Status:Retention:BatchSize must be positive.")
            .ValidateOnStart();
        builder.Services.AddOptions<BulkOptions>()
            .BindConfiguration(BulkOptions.SectionName)
            .Validate(o => o.MaxEmails is > 0 and <= 100_000, "Status:Bulk:MaxEmails must be between 1 and 100000.")
            .Validate(o => o.PublishTimeout >= TimeSpan.FromSeconds(1) && o.PublishTimeout <= TimeSpan.FromMinutes(5), "Status:Bulk:PublishTimeout must be between 1 second and 5 minutes.")
            .Validate(o => o.PollInterval >= TimeSpan.FromMilliseconds(50) && o.PollInterval <= TimeSpan.FromMinutes(5), "Status:Bulk:PollInterval must be between 50 ms and 5 minutes.")
            .ValidateOnStart();
        builder.Services.AddSingleton<BulkCommandSignal>();
        builder.Services.AddSingleton<BulkMetrics>();
        builder.Services.AddHostedService<BulkCommandPublisher>();
        builder.Services.AddScoped<ReportedEmails>();
        builder.Services.AddScoped<BounceReports>();
        builder.Services.AddScoped<ComplaintReports>();
        builder.Services.AddSingleton<ComplaintMetrics>();
        builder.Services.AddSingleton<BounceMetrics>();
        builder.Services.AddOptions<BounceListenerOptions>()
            .BindConfiguration(BounceListenerOptions.SectionName)
            .Validate(o => o.Port is >= 0 and <= 65535, "Status:BounceListener:Port must be between 0 (no listener) and 65535.")
            .Validate(o => System.Net.IPAddress.TryParse(o.Address, out _), "Status:BounceListener:Address must be an IP address such as 0.0.0.0.")
            .Validate(o => o.Port == 0 || (o.Domains.Length > 0 && o.Domains.All(d => Uri.CheckHostName(d) == UriHostNameType.Dns && d.Contains('.', StringComparison.Ordinal))),
                "Status:BounceListener:Domains must name the domains whose mail the listener takes (such as bounce.example.com, the domain of Ingress:ReturnPath) when Status:BounceListener:Port is set.")
            .Validate(o => o.SessionTimeout >= TimeSpan.FromSeconds(10) && o.SessionTimeout <= TimeSpan.FromHours(1), "Status:BounceListener:SessionTimeout must be between 10 seconds and 1 hour.")
            .Validate(o => o.MaxSessions is > 0 and <= 1000, "Status:BounceListener:MaxSessions must be between 1 and 1000.")
            .Validate(o => string.IsNullOrWhiteSpace(o.CertificatePath) == string.IsNullOrWhiteSpace(o.CertificateKeyPath),
                "Status:BounceListener:CertificatePath and Status:BounceListener:CertificateKeyPath go together: set both (a PEM certificate and its private key) for STARTTLS, or neither.")
            .ValidateOnStart();
        builder.Services.AddSingleton<BounceListener>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<BounceListener>());
        builder.Services.AddScoped<RetentionPurger>();
        builder.Services.AddHostedService<RetentionService>();
        builder.Services.AddOptions<HeaderAddressCatchUpOptions>()
            .BindConfiguration(HeaderAddressCatchUpOptions.SectionName)
            .Validate(o => o.BatchSize is > 0 and <= 10_000, "Status:HeaderAddressCatchUp:BatchSize must be between 1 and 10000.")
            .Validate(o => o.Interval >= TimeSpan.FromMilliseconds(10), "Status:HeaderAddressCatchUp:Interval must be at least 10 ms.")
            .ValidateOnStart();
        builder.Services.AddScoped<HeaderAddressCatchUp>();
        builder.Services.AddHostedService<HeaderAddressCatchUpService>();
        return builder;
    }

    public static IBusRegistrationConfigurator AddStatusConsumers(this IBusRegistrationConfigurator bus)
    {
        bus.AddConsumer<EmailLifecycleConsumer, EmailLifecycleConsumerDefinition>();
        bus.AddConsumer<RecipientOutcomeConsumer, RecipientOutcomeConsumerDefinition>();
        return bus;
    }

    public static IEndpointRouteBuilder MapStatus(this IEndpointRouteBuilder routes)
    {
        routes.MapEmailReads();
        routes.MapWebhooks();
        routes.MapSuppressions();
        routes.MapRecipientErasure();
        routes.MapBulk();
        routes.MapBounces();
        routes.MapComplaints();
        return routes;
    }
}
