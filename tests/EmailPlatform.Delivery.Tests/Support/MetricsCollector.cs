using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace EmailPlatform.Delivery.Tests.Support;

/// <summary>One measurement of an instrument, with its tags.</summary>
internal sealed record MeasurementRecord(string Instrument, string? Unit, double Value, IReadOnlyDictionary<string, string?> Tags);

/// <summary>
/// Listens to the <c>EmailPlatform.Delivery</c> meter of one host (its <see cref="IMeterFactory"/>), so tests running
/// in parallel in this process never see each other's measurements.
/// </summary>
internal sealed class MetricsCollector : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly ConcurrentQueue<MeasurementRecord> _measurements = new();

    public MetricsCollector(IMeterFactory factory)
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == DeliveryTelemetry.Name && ReferenceEquals(instrument.Meter.Scope, factory))
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((i, v, t, _) => Add(i, v, t));
        _listener.SetMeasurementEventCallback<int>((i, v, t, _) => Add(i, v, t));
        _listener.SetMeasurementEventCallback<double>((i, v, t, _) => Add(i, v, t));
        _listener.Start();
    }

    /// <summary>Reads the observable gauges now, then returns every measurement of <paramref name="instrument"/>.</summary>
    public IReadOnlyList<MeasurementRecord> Of(string instrument)
    {
        _listener.RecordObservableInstruments();
        return _measurements.Where(m => m.Instrument == instrument).ToList();
    }

    public void Dispose() => _listener.Dispose();

    private void Add(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var map = new Dictionary<string, string?>();
        foreach (var tag in tags)
        {
            map[tag.Key] = tag.Value?.ToString();
        }

        _measurements.Enqueue(new MeasurementRecord(instrument.Name, instrument.Unit, value, map));
    }
}
