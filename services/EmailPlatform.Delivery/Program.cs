using EmailPlatform.Delivery;
using EmailPlatform.ServiceDefaults;
using EmailPlatform.ServiceDefaults.Authentication;
using EmailPlatform.ServiceDefaults.Messaging;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddApiKeyAuthentication();
builder.AddDelivery();
builder.AddMessageBus(bus => bus.AddDeliveryConsumers());

var app = builder.Build();

app.MapDefaultEndpoints();
app.MapDelivery();

app.Run();
