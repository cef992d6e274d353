using Fluid;
using Fluid.Ast;
using Fluid.Values;

namespace EmailPlatform.Ingress.Templates;

/// <summary>
/// Liquid ranges (<c>(1..n)</c>) with a bounded length. Fluid builds a range's whole array before a loop takes its
/// first step, so <c>MaxSteps</c> stops <c>{% for i in (1..times) %}</c> only after a hundred million elements (gigabytes)
/// have been allocated when <c>times</c> is 100000000. Every range in a parsed template is replaced by one that
/// measures itself first and, over <see cref="MaxLength"/>, fails the render the way Fluid's own limits do
/// (<see cref="InvalidOperationException"/>).
/// </summary>
internal sealed class BoundedRanges : AstRewriter
{
    /// <summary>No loop may run longer than the renderer's <c>MaxSteps</c> anyway.</summary>
    public const int MaxLength = 100_000;

    private static readonly BoundedRanges Instance = new();

    public static IFluidTemplate Apply(IFluidTemplate template) => Instance.VisitTemplate(template);

    protected override Expression VisitRangeExpression(RangeExpression rangeExpression) => new Bounded(rangeExpression);

    private sealed class Bounded(RangeExpression range) : Expression
    {
        public override async ValueTask<FluidValue> EvaluateAsync(TemplateContext context)
        {
            var from = (await range.From.EvaluateAsync(context)).ToNumberValue();
            var to = (await range.To.EvaluateAsync(context)).ToNumberValue();
            if (Math.Abs(to - from) >= MaxLength)
            {
                throw new InvalidOperationException($"A range ({from}..{to}) is longer than {MaxLength} elements.");
            }

            return await range.EvaluateAsync(context);
        }
    }
}
