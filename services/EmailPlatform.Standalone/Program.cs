using EmailPlatform.Delivery;
using EmailPlatform.Delivery.Suppressions;
using EmailPlatform.Ingress;
using EmailPlatform.ServiceDefaults;
using EmailPlatform.ServiceDefaults.Messaging;
using EmailPlatform.Standalone;
using EmailPlatform.Standalone.Capture;
using EmailPlatform.Status;
using EmailPlatform.Status.Reads;

// The image's health check: asks a running host and exits, creating nothing (no data/, no migrations).
if (args is [HealthProbe.Command, ..])
{
    return await HealthProbe.RunAsync(args);
}

// Settings files ship next to the binary; data/ stays relative to the directory it is run from.
var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });

builder.AddStandaloneDefaults();
builder.AddServiceDefaults();
builder.AddCaptureRelay();
builder.AddMessageBus(bus => bus.AddDeliveryConsumers().AddStatusConsumers().AddIngressConsumers(), allowInMemory: true);
builder.AddIngress();
builder.AddDelivery();
builder.AddStatus();
builder.Services.AddSingleton<ISuppressionList, StoreSuppressionList>();
builder.Services.AddScoped<IPendingEmails, OutboxPendingEmails>();
builder.Services.AddHostedService<HostActivity>();

var app = builder.Build();

// A second host on this data directory, or a port in use, ends the start here, having changed nothing.
using var dataDirectory = await DataDirectoryLock.TakeOrRefuseStartAsync(app);
if (dataDirectory is null)
{
    return 1;
}

await app.MigrateStandaloneStoresAsync();
await app.RecoverInMemoryBusAsync();

app.MapDefaultEndpoints();
app.MapIngress();

// No ingress in front of the status and relay routes here: each key spends one budget on them and on its sends.
var rateLimited = app.MapGroup("").AddIngressRateLimit(app);
rateLimited.MapDelivery();
rateLimited.MapStatus();
app.PrintWelcomeOnStart();

return await BusyPort.RunAsync(app);
