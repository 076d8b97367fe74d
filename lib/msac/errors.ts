import { InvalidArgumentError } from '../errors';

// Bad crop-planner input (image size, preset name, layer ranges): an InvalidArgumentError
// (code 'INVALID_ARGUMENT') that also names the input that was wrong.
export class CropOptionsError extends InvalidArgumentError {
  /** Which input was wrong, e.g. 'width', 'preset', 'detail.min'. */
  readonly field: string;
  constructor(field: string, message: string) {
    super(message);
    this.field = field;
  }
}
